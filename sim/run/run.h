#pragma once
// Orchestration of `mlssim run`: quantize each layer once, run every requested
// pass through the SystemC array, check it against the golden model, and
// collect the report.
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ref/core/config.h"
#include "ref/core/operand.h"
#include "ref/io/file_io.h"
#include "sim/io/trace.h"
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
  // --shard I/N (and each worker of -j N): run only the layer-passes of shard
  // `shard_index` (1-based) of `shard_count` (shard_plan) and mark the report
  // as a partial for `mlssim merge` (docs/scale.md).
  int shard_index = 1, shard_count = 1;
  // --resume DIR: each finished layer-pass kept in DIR, those already there
  // skipped (docs/scale.md#resume); empty: none.
  std::string resume_dir;
  // Folded into the run's identity (run_identity): a hash of the
  // --layer-config file's text, 0 without one.
  uint64_t layer_config_hash = 0;
};

// One layer-pass of a run, in run order, with the work it is expected to
// take, from its shapes alone (LayerKind::product_size, no lowering): its
// products (padding and zero-insertion taps included) and an estimate of its
// cycles on the array. The simulator's time follows the cycles, whatever the
// array does in them (the kernel's edges and the blocks that run at every
// edge): a least-squares fit over ResNet-18's 63 layer-passes at batch 32
// gives 0.84 us per estimated cycle and no significant cost per product. So a
// low-utilization pass (ResNet-18's conv1 backward-data: 3 of 16 columns)
// costs far more than its products say. A cycle weighs kCycleCost products;
// the products only order passes of about equal cycles. Shards are balanced
// and the ETA is estimated on est_cost.
struct PlannedPass {
  static constexpr int64_t kCycleCost = 2000;
  std::string layer;
  Pass pass = Pass::fwd;
  int64_t est_macs = 0, est_cycles = 0;
  int64_t est_cost() const { return est_macs + kCycleCost * est_cycles; }
  std::string key() const;  // "layer pass", as compare_reports names entries
};

// One stderr line per finished layer-pass, whether stderr is a terminal or a
// batch job's log file, so a long run shows where it is:
//   run: 3/57 layer1.0.conv1 bwd-data: 1179648 MACs in 0.42 s, ETA 0:12
// The ETA is the time since the log was made, scaled by the expected products
// still to make over those made (PlannedPass::est_cost; resumed layer-passes
// cost no time). `run -j` keeps one for the whole run and tags each line with
// the worker that finished the layer-pass ("run[2/4]").
class PassLog {
 public:
  PassLog(bool enabled, size_t passes, int64_t est_total);
  void finished(const PlannedPass& pp, int64_t macs, double seconds, bool resumed, const std::string& tag = "run");

 private:
  bool enabled_;
  size_t passes_, done_ = 0;
  int64_t est_total_, est_done_ = 0, est_computed_ = 0;
  std::chrono::steady_clock::time_point start_;
};

// Every layer-pass the run makes, in run order (the --passes of each layer,
// or its --layer-config passes, where the layer has the operands).
std::vector<PlannedPass> plan_run(const Trace& trace, const RunOptions& opt);

// The layer-passes of shard `index` (1-based) of `count`, in run order. The
// plan's layer-passes are dealt largest first (ties: run order) to the shard
// with the fewest expected products so far (ties: the lowest index), so the
// shards are balanced by products and every process computes the same split.
std::vector<PlannedPass> shard_plan(const std::vector<PlannedPass>& plan, int index, int count);

// What partial reports and --resume entries must share to be combined: the
// config, a fingerprint of the trace (the manifest and every tensor's bits),
// the --check and --accuracy switches, the layer-config hash and the plan.
nlohmann::json run_identity(const Trace& trace, const RunOptions& opt);

// The per-layer table of a finished report (for -j, which runs its
// layer-passes in worker processes) and its total line, on stdout.
void print_report_table(const nlohmann::json& report, int layer_width, bool check);
int layer_column_width(const Trace& trace);

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

// --outputs DIR/<layer>.<pass>.npy
std::string output_path(const std::string& dir, const std::string& layer, Pass pass);
// --operands DIR/<layer>.<pass>.<weight|input|grad_output>.npy
std::string operand_path(const std::string& dir, const std::string& layer, Pass pass, Operand which);

}  // namespace mls
