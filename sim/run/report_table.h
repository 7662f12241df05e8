#pragma once
// The per-layer table of a run on stdout: the header, one row per layer-pass
// and the total line.
#include <nlohmann/json.hpp>

#include "sim/io/trace.h"

namespace mls {

void print_header(int width);
void print_row(const nlohmann::json& e, int width);
void print_total(const nlohmann::json& report, bool check);

// The per-layer table of a finished report (for -j, which runs its
// layer-passes in worker processes) and its total line, on stdout.
void print_report_table(const nlohmann::json& report, int layer_width, bool check);
int layer_column_width(const Trace& trace);

}  // namespace mls
