#pragma once
// Orchestration of `mlssim run`: quantize each layer once, run every requested
// pass through the SystemC array, check it against the golden model, and
// collect the report.
#include <nlohmann/json.hpp>
#include <string>

#include "ref/core/operand.h"
#include "ref/io/file_io.h"
#include "sim/io/trace.h"
#include "sim/run/plan.h"
#include "sim/run/progress.h"
#include "sim/run/report_table.h"
#include "sim/run/run_identity.h"
#include "sim/run/run_options.h"
#include "sim/run/run_warnings.h"

namespace mls {

struct RunResult {
  nlohmann::json report;
  bool all_bit_exact = true;
};

// Result tensors (--outputs) are staged in `outputs` as each pass finishes;
// the caller commits them with the report once everything has succeeded.
RunResult run_trace(const Trace& trace, const RunOptions& opt, OutputSet& outputs);

// --outputs DIR/<layer>.<pass>.npy
std::string output_path(const std::string& dir, const std::string& layer, Pass pass);
// --operands DIR/<layer>.<pass>.<weight|input|grad_output>.npy
std::string operand_path(const std::string& dir, const std::string& layer, Pass pass, Operand which);

}  // namespace mls
