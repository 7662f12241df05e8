#include "python/src/passes.h"

#include <algorithm>
#include <thread>

#include "ref/core/error.h"
#include "ref/golden/golden_conv.h"
#include "ref/mapping/mapping.h"
#include "sim/run/layer.h"

namespace mls::py {

namespace {

// Outputs [p0, p1) of a compact block: the same X tables and Y rows shifted
// by p0, its compact result [m][p1 - p0].
LoweredPass p_range(const LoweredPass& lp, int64_t p0, int64_t p1) {
  LoweredPass sub;
  sub.pass = lp.pass;
  sub.m = lp.m;
  sub.p = p1 - p0;
  sub.g = lp.g;
  sub.k = lp.k;
  sub.out_shape = {sub.m * sub.p};
  sub.x_index = lp.x_index;
  sub.x_group = lp.x_group;
  sub.fill_rows = lp.fill_rows;  // the same chunks as the whole pass (block groupings)
  const RowFill rows = lp.y_row;
  sub.y_row = [rows, p0](int64_t r, int32_t* groups, int32_t* indices) { rows(r + p0, groups, indices); };
  return sub;
}

// One compact block, its p range cut into `threads` parts run side by side;
// returns the overflow count.
uint64_t golden_block(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y, const ArrayConfig& array,
                      const OperandBounds& bounds, int threads, TensorF& compact) {
  const int parts = int(std::max<int64_t>(1, std::min<int64_t>(threads, lp.p)));
  if (parts == 1) {  // the block as it is: no copy of its tables, its result moved
    GoldenResult whole = golden_pass(lp, x, y, array, bounds);
    compact = std::move(whole.out);
    return whole.acc_overflow;
  }
  std::vector<GoldenResult> results(static_cast<size_t>(parts));
  std::vector<int64_t> begin(static_cast<size_t>(parts) + 1);
  for (int i = 0; i <= parts; ++i) begin[size_t(i)] = lp.p * i / parts;
  auto work = [&](int i) {
    results[size_t(i)] = golden_pass(p_range(lp, begin[size_t(i)], begin[size_t(i) + 1]), x, y, array, bounds);
  };
  std::vector<std::thread> pool;
  for (int i = 1; i < parts; ++i) pool.emplace_back(work, i);
  work(0);
  for (std::thread& t : pool) t.join();
  compact = TensorF(Shape{lp.m * lp.p});
  uint64_t overflow = 0;
  for (int i = 0; i < parts; ++i) {
    const int64_t p0 = begin[size_t(i)], width = begin[size_t(i) + 1] - p0;
    const std::vector<float>& part = results[size_t(i)].out.data;
    for (int64_t m = 0; m < lp.m; ++m)
      std::copy_n(part.begin() + m * width, width, compact.data.begin() + m * lp.p + p0);
    overflow += results[size_t(i)].acc_overflow;
  }
  return overflow;
}

// The closed-form counts of one block (docs/architecture.md#event-counts).
void add_block_counts(const LoweredPass& lp, const ArrayConfig& array, PassStats& s) {
  const Mapping map = Mapping::for_pass(array, lp.pass, lp.fill_rows);
  const ChunkPlan plan = map.chunk_plan(lp.k, lp.g);
  const LoopNest nest = map.loop_nest(lp.m, lp.p, plan);
  const uint64_t outputs = uint64_t(lp.m * lp.p), chunks = uint64_t(plan.total), tiles = uint64_t(nest.chunk_tiles);
  s["mul"] += uint64_t(lp.macs());
  s["acc_add"] += uint64_t(lp.macs());
  s["scale"] += outputs * chunks;
  s["tree_add"] += outputs * (chunks - tiles);
  s["out_acc"] += outputs * tiles;
  s["final_mul"] += outputs;
  s["write_out"] += outputs;
}

// Blocks [first, blocks) stepping by `stride`, each on one thread: the blocks
// of a pass write disjoint parts of the result. `lowered` is block `first`
// when the caller lowered it already (for the pass's shape), else null.
PassStats run_blocks(const QuantLayer& layer, Pass pass, const ArrayConfig& array, const OperandBounds& bounds,
                     int64_t first, int64_t stride, int threads, BlockPass* lowered, TensorF& result) {
  PassStats s;
  for (int64_t b = first; b < pass_blocks(layer, pass, array.bwd_data); b += stride) {
    const BlockPass block =
        b == first && lowered ? std::move(*lowered) : lower_block(layer, pass, b, array.bwd_data);
    TensorF compact;
    s["acc_overflow"] += golden_block(block.lp, layer.x(pass), layer.y(pass), array, bounds, threads, compact);
    scatter_block(compact, block, result);
    add_block_counts(block.lp, array, s);
  }
  return s;
}

PassOutput run_pass(const QuantLayer& layer, Pass pass, const ArrayConfig& array, int threads) {
  PassOutput out;
  out.stats = {{"mul", 0}, {"acc_add", 0}, {"acc_overflow", 0}, {"scale", 0}, {"tree_add", 0},
               {"out_acc", 0}, {"final_mul", 0}, {"write_out", 0}, {"requant", layer.requant(pass)}};
  const OperandBounds bounds = operand_bounds(layer.x(pass), layer.y(pass));  // once, not per block
  BlockPass first = lower_block(layer, pass, 0, array.bwd_data);  // lowered once: the shape, then block 0
  out.result = TensorF(first.natural_shape);
  // Many blocks (a matmul's batch, conv groups): a share of the blocks per
  // thread; few: each block's outputs split over the threads.
  const int64_t blocks = pass_blocks(layer, pass, array.bwd_data);
  const int workers = blocks >= threads ? threads : 1;
  std::vector<PassStats> parts(static_cast<size_t>(workers));
  auto work = [&](int i) {
    parts[size_t(i)] =
        run_blocks(layer, pass, array, bounds, i, workers, workers > 1 ? 1 : threads, i == 0 ? &first : nullptr,
                   out.result);
  };
  std::vector<std::thread> pool;
  for (int i = 1; i < workers; ++i) pool.emplace_back(work, i);
  work(0);
  for (std::thread& t : pool) t.join();
  for (const PassStats& part : parts)
    for (const auto& [key, value] : part) out.stats[key] += value;
  return out;
}

}  // namespace

std::unique_ptr<LayerKind> make_kind(const std::string& kind, const nlohmann::json& keys, const std::string& where) {
  const LayerKindEntry& entry = find_layer_kind(kind, "--kind");
  for (const auto& item : keys.items())
    if (std::find(entry.keys.begin(), entry.keys.end(), item.key()) == entry.keys.end()) {
      std::string flag = item.key();
      std::replace(flag.begin(), flag.end(), '_', '-');
      throw Error("--" + flag + " does not apply to --kind " + kind);
    }
  return entry.from_manifest(keys, where);
}

std::vector<PassOutput> run_passes(LayerCall call, const RunConfig& cfg, int threads) {
  LayerTensors t;
  t.name = call.name;
  t.weight = std::move(call.weight);
  t.input = std::move(call.input);
  if (call.has_grad_output) t.grad_output = std::move(call.grad_output);
  const std::string where = "layer '" + call.name + "'";
  bind_layer_kind(t, std::move(call.kind), where);
  PerOperand<QuantConfig> quant = cfg.mls.quant;
  if (call.default_groups)
    if (const std::optional<Grouping> g = default_grouping(*t.kind)) quant.for_each([&](QuantConfig& q) { q.group = *g; });
  // All three passes, as `mlssim conv` quantizes: a block grouping's re-quantizations
  // and their requant counts are the CLI's whichever passes are asked for.
  const QuantLayer layer = quantize_layer(t, quant, threads);
  std::vector<PassOutput> outputs;
  for (Pass pass : call.passes) {
    if (!layer.has_pass(pass)) throw Error("--pass " + to_string(pass) + " needs --grad-output");
    outputs.push_back(run_pass(layer, pass, cfg.mls.array, threads));
  }
  return outputs;
}

}  // namespace mls::py
