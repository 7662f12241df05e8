#pragma once
// Orchestration of `mlssim run`: quantize each layer once, run every requested
// pass through the SystemC array, check it against the golden model, and
// collect the report.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ref/config.h"
#include "sim/trace.h"

namespace mls {

struct RunOptions {
  MlsConfig cfg;
  std::vector<Pass> passes{Pass::fwd, Pass::bwd_data, Pass::bwd_weight};
  bool check = false;
  std::string vcd_path;     // empty: no waveform
  std::string outputs_dir;  // empty: results not written
  bool progress = true;
  bool quiet = false;       // no per-layer summary
  bool accuracy = false;    // ARE of W, A, E and error against the fp32 conv
  int threads = 1;
};

struct RunResult {
  nlohmann::json report;
  bool all_bit_exact = true;
};

RunResult run_trace(const Trace& trace, const RunOptions& opt);

}  // namespace mls
