#pragma once
// The options of one `mlssim run` process, as parsed from its flags.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ref/core/config.h"
#include "ref/core/operand.h"
#include "sim/run/layer_config.h"

namespace mls {

struct RunOptions {
  MlsConfig cfg;
  std::vector<Pass> passes{Pass::fwd, Pass::bwd_data, Pass::bwd_weight};
  bool check = false;
  std::string vcd_path;     // where the array writes its waveform; empty: none
  std::string outputs_dir;  // empty: results not written
  std::string operands_dir; // empty: the passes' dequantized operands not written
  bool progress = true;
  bool quiet = false;       // no per-layer summary
  bool accuracy = false;    // ARE of W, A, E and error against the fp32 conv
  int threads = 1;
  // --layer-config: the layers with their own formats, passes or no
  // quantization, by name; the others take cfg.quant and passes.
  std::map<std::string, LayerSettings> layer_settings;
  // Default groupings by layer (default_groupings): filled only when the run
  // gives no grouping; --layer-config's group keys win over them.
  std::map<std::string, Grouping> default_groups;
  // --shard I/N (and each worker of -j N): run only the layer-passes of shard
  // `shard_index` (1-based) of `shard_count` (shard_plan) and mark the report
  // as a partial for `mlssim merge` (docs/scale.md).
  int shard_index = 1, shard_count = 1;
  // --claims DIR (each worker of -j N): with --shard, run whichever of the
  // whole run's layer-passes this process claims first in DIR, largest first
  // (PassClaims), instead of the fixed slice; empty: the fixed slice.
  std::string claims_dir;
  // --resume DIR: each finished layer-pass kept in DIR, those already there
  // skipped (docs/scale.md#resume); empty: none.
  std::string resume_dir;
  // Folded into the run's identity (run_identity): a hash of the
  // --layer-config file's text, 0 without one.
  uint64_t layer_config_hash = 0;
};

}  // namespace mls
