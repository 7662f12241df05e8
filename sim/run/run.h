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

namespace mls {

struct RunResult {
  nlohmann::json report;
  bool all_bit_exact = true;
};

// Result tensors (--outputs) are staged in `outputs` as each pass finishes;
// the caller commits them with the report once everything has succeeded.
RunResult run_trace(const Trace& trace, const RunOptions& opt, OutputSet& outputs);

// The one summary line a run whose local accumulators overflowed prints on
// stderr once it has succeeded: the overflow rate (acc_overflow / acc_add) and
// the narrowest --acc-bits that would have none (total.acc_bits_needed); ""
// when nothing overflowed.
std::string acc_overflow_warning(const nlohmann::json& report);
// One line naming the layers with a layer-pass of k = 1, whose grouping puts
// one group-scale pair on every product (nc on a linear layer, say); "" when
// none has (docs/layers.md#default-groupings).
std::string one_scale_per_product_warning(const nlohmann::json& report);

// --outputs DIR/<layer>.<pass>.npy
std::string output_path(const std::string& dir, const std::string& layer, Pass pass);
// --operands DIR/<layer>.<pass>.<weight|input|grad_output>.npy
std::string operand_path(const std::string& dir, const std::string& layer, Pass pass, Operand which);

}  // namespace mls
