#include "sim/run/run.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "hw_model/array/mac_array.h"
#include "hw_model/array/simulate_pass.h"
#include "ref/core/error.h"
#include "ref/core/rng.h"
#include "ref/golden/golden_conv.h"
#include "ref/workload/bwd_data_decompose.h"
#include "ref/workload/layer_kind.h"
#include "ref/io/npy.h"
#include "ref/io/file_io.h"
#include "sim/exec/process.h"
#include "sim/io/json_file.h"
#include "sim/params/params.h"
#include "sim/run/layer.h"
#include "sim/run/pass_claims.h"
#include "sim/run/report.h"
#include "sim/run/resume_store.h"
#include "sim/run/vector_work.h"

namespace mls {

using nlohmann::json;

namespace {

std::string index_str(int64_t flat, const Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return shape_str(idx);
}

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

// Bitwise comparison of one block's compact results; keeps the pass's first
// few mismatches (`bad` counts over the pass) at their index in its result,
// for check_against_golden to print once the progress line is cleared.
void count_mismatches(const TensorF& hw, const TensorF& golden, const BlockPass& block, const std::string& label,
                      uint64_t& bad, std::ostringstream& lines) {
  for (int64_t i = 0; i < hw.size(); ++i) {
    const float h = hw.data[size_t(i)], g = golden.data[size_t(i)];
    if (bits_of(h) == bits_of(g)) continue;
    if (++bad <= 5)
      lines << "  mismatch " << label << " at " << index_str(block.natural[size_t(i)], block.natural_shape)
                << ": array " << h << " (0x" << std::hex << bits_of(h) << "), golden " << g << " (0x" << bits_of(g)
                << std::dec << ")\n";
  }
}

// --operands: the dequantized X and Y the pass consumed, in their natural shapes.
void stage_operands(const QuantLayer& layer, Pass pass, const std::string& dir, OutputSet& outputs) {
  for (Operand which : {layer.kind->x_operand(pass), layer.kind->y_operand(pass)})
    outputs.stage(operand_path(dir, layer.name, pass, which), npy_bytes(dequantize(layer.operand(which, pass))));
}

// A pass run block by block (LayerKind::blocks): the results scattered into
// the pass's result, the events and times summed; with --check, each block
// compared with the golden model's as it ends (no second full result held).
struct BlockedRun {
  TensorF out;
  Stats stats;
  hw::Traffic traffic;
  double seconds = 0, golden_seconds = 0;
  int64_t blocks = 0, macs = 0, useful_macs = 0;
  uint64_t golden_overflow = 0, mismatches = 0;
  std::string mismatch_lines;  // the first few, printed by check_against_golden
  Gauges gauges;  // the largest of its blocks'
  LoweredPass first;  // block 0's sizes, tables dropped
};

// The report entry of a simulated pass: its lowered sizes (one block's, when
// the pass has several), cycles and events.
json pass_entry(const std::string& layer, Pass pass, const BlockedRun& run, const ArrayConfig& array) {
  const LoweredPass& lp = run.first;
  json e = {{"name", layer}, {"pass", to_string(pass)},
            {"m", lp.m}, {"p", lp.p}, {"g", lp.g}, {"k", lp.k}, {"macs", run.macs},
            {"macs_useful", run.useful_macs},
            {"cycles", run.stats.cycles}, {"pipeline_depth", run.stats.pipeline_depth},
            {"stall_cycles", run.stats.stall_cycles},
            {"utilization", run.stats.utilization(array.rows, array.cols)},
            {"events", events_json(run.stats, array)},
            {"stats", stats_tree_json(run.stats)},
            {"traffic", hw::traffic_json(run.traffic)},
            {"sim_seconds", run.seconds},
            {"sim_macs_per_second", run.seconds > 0 ? double(run.macs) / run.seconds : 0.0},
            {"bit_exact", nullptr}};
  add_gauges_json(e, run.gauges);
  if (run.blocks != 1) e["blocks"] = run.blocks;
  // The chunk the pass ran with (shorter than --chunk when its rows were filled).
  e["chunk"] = Mapping::for_pass(array, pass, lp.fill_rows).chunk_for(lp.k, lp.g);
  return e;
}

// Every block of the pass through the array (and, with `check`, the golden
// model beside it), one after another; only one block's tables are alive at a time.
BlockedRun run_blocks(hw::ArraySim& sim, const QuantLayer& layer, Pass pass, bool check, const std::string& label,
                      ProgressLine& progress) {
  const QuantTensor& x = layer.x(pass);
  const QuantTensor& y = layer.y(pass);
  BlockedRun r;
  std::ostringstream mismatch_lines;
  const BwdData bwd_data = sim.config().array.bwd_data;
  r.blocks = pass_blocks(layer, pass, bwd_data);
  // Once per pass: each block's golden walk then costs what the block does.
  const OperandBounds bounds = check ? operand_bounds(x, y) : OperandBounds{};
  for (int64_t b = 0; b < r.blocks; ++b) {
    BlockPass block = lower_block(layer, pass, b, bwd_data);
    if (b == 0) r.out = TensorF(block.natural_shape);
    // The golden model runs beside the simulation, on a thread of its own: it
    // only reads the lowering and the operands, and SystemC stays on this one.
    std::future<std::pair<GoldenResult, double>> golden;
    if (check)
      golden = std::async(std::launch::async, [&block, &x, &y, &sim, &bounds] {
        const auto g0 = Clock::now();
        GoldenResult result = golden_pass(block.lp, x, y, sim.config().array, bounds);
        return std::make_pair(std::move(result), seconds_since(g0));
      });
    const hw::SimulatedPass simulated =
        hw::simulate_pass(sim, block.lp, x, y, [&](uint64_t done, uint64_t total) { progress(done, total); });
    scatter_block(simulated.out, block, r.out);
    r.stats += simulated.stats;
    r.traffic += simulated.traffic;
    r.gauges.merge(simulated.gauges);
    r.seconds += simulated.seconds;
    r.macs += block.lp.macs();
    r.useful_macs += block.lp.useful_macs();
    if (check) {
      const auto [result, seconds] = golden.get();
      r.golden_seconds += seconds;
      count_mismatches(simulated.out, result.out, block, label, r.mismatches, mismatch_lines);
      r.golden_overflow += result.acc_overflow;
    }
    if (b == 0) {
      r.first.pass = pass;
      r.first.m = block.lp.m, r.first.p = block.lp.p, r.first.g = block.lp.g, r.first.k = block.lp.k;
      r.first.fill_rows = block.lp.fill_rows;
    }
  }
  r.mismatch_lines = mismatch_lines.str();
  r.stats.requant += layer.requant(pass);  // block groupings: the operands quantized again for this pass
  return r;
}

// The widths the pass ran at, which the energy model prices: X's and Y's
// formats and the local accumulator.
json pass_formats(const QuantLayer& layer, Pass pass, const ArrayConfig& array) {
  const auto operand = [&](Operand which) {
    const QuantTensor& q = layer.operand(which);
    return json{{"tensor", to_string(which)}, {"elem", q.elem.name()}, {"scale", q.scale.name()}};
  };
  return {{"x", operand(layer.kind->x_operand(pass))},
          {"y", operand(layer.kind->y_operand(pass))},
          {"acc_bits", array.acc_bits},
          {"out_format", to_string(array.out_format)}};
}

// The grouping each operand of the layer was quantized with (per operand).
json groups_of(const QuantLayer& layer) {
  json groups = json::object();
  for (Operand which : {Operand::weight, Operand::input, Operand::grad_output})
    if (which != Operand::grad_output || layer.grad_output)
      groups[to_string(which)] = to_string(layer.operand(which).layout.group);
  return groups;
}

// --check: every output bit and the overflow count against the golden model.
bool check_against_golden(const BlockedRun& run, const std::string& label, json& entry) {
  entry["golden_seconds"] = run.golden_seconds;
  const uint64_t bad = run.mismatches;
  std::cerr << run.mismatch_lines;
  if (run.golden_overflow != run.stats.acc_overflow)
    std::cerr << "  " << label << ": acc_overflow " << run.stats.acc_overflow << " differs from golden "
              << run.golden_overflow << "\n";
  const bool exact = bad == 0 && run.golden_overflow == run.stats.acc_overflow;
  entry["bit_exact"] = exact;
  entry["mismatches"] = bad;
  return exact;
}

// --accuracy: the pass's error against the double conv of the unquantized tensors.
double error_against_fp32(const LayerTensors& t, const QuantLayer& layer, Pass pass, const TensorF& out) {
  const std::vector<double> ref =
      layer.kind->reference(pass, t.weight, t.input, t.grad_output ? &*t.grad_output : nullptr);
  return relative_l2_error(out, ref);
}

// One layer-pass as steps: lower, simulate, check, measure, stage the result.
// Returns its report entry; the report's total is summed from the entries
// (assemble_report), so a kept or merged entry counts as a computed one.
json run_pass(hw::ArraySim& sim, const LayerTensors& t, const QuantLayer& layer, Pass pass, const RunOptions& opt,
              ProgressLine& progress, OutputSet& outputs) {
  const BlockedRun run = run_blocks(sim, layer, pass, opt.check, layer.name + " " + to_string(pass), progress);
  json entry = pass_entry(layer.name, pass, run, opt.cfg.array);
  entry["formats"] = pass_formats(layer, pass, opt.cfg.array);
  entry["groups"] = groups_of(layer);
  progress.clear();
  if (opt.check) check_against_golden(run, layer.name + " " + to_string(pass), entry);
  if (opt.accuracy) entry["rel_error_fp32"] = error_against_fp32(t, layer, pass, run.out);
  if (!opt.outputs_dir.empty()) outputs.stage(output_path(opt.outputs_dir, layer.name, pass), npy_bytes(run.out));
  if (!opt.operands_dir.empty()) stage_operands(layer, pass, opt.operands_dir, outputs);
  return entry;
}

json layer_are(const LayerTensors& t, const QuantLayer& q) {
  json are = {{"weight", average_relative_error(t.weight, dequantize(q.weight))},
              {"input", average_relative_error(t.input, dequantize(q.input))}};
  if (t.grad_output) are["grad_output"] = average_relative_error(*t.grad_output, dequantize(*q.grad_output));
  return are;
}
}  // namespace

std::string output_path(const std::string& dir, const std::string& layer, Pass pass) {
  return dir + "/" + layer + "." + to_string(pass) + ".npy";
}

std::string operand_path(const std::string& dir, const std::string& layer, Pass pass, Operand which) {
  return dir + "/" + layer + "." + to_string(pass) + "." + to_string(which) + ".npy";
}

namespace {

// A limited buffer must hold one tile of every layer-pass: refused before
// anything runs, naming the flag and the layer.
void check_buffers_fit(const Trace& trace, const RunOptions& opt) {
  const MemoryConfig& mem = opt.cfg.memory;
  if (!mem.x_buffer_kb && !mem.y_buffer_kb && !mem.out_buffer_kb) return;
  for (const LayerTensors& listed : trace.layers) {
    std::optional<LayerTensors> read;
    if (!listed.resident) read = load_tensors(listed);
    const LayerTensors& t = listed.resident ? listed : *read;
    const QuantLayer layer = quantize_layer(t, opt.cfg.quant, opt.threads);
    for (Pass pass : opt.passes) {
      if (!layer.has_pass(pass)) continue;
      const QuantTensor& x = layer.x(pass);
      const QuantTensor& y = layer.y(pass);
      for (int64_t b = 0; b < pass_blocks(layer, pass, opt.cfg.array.bwd_data); ++b) {
        const LoweredPass lp = lower_block(layer, pass, b, opt.cfg.array.bwd_data).lp;
        try {
          hw::check_buffers(lp.m, lp.g, lp.k, opt.cfg.array.cols, x.elem, x.scale, y.elem, y.scale, mem);
        } catch (const ConfigError& e) {
          throw Error(params::flag_error(e).what() + std::string(" (layer '") + t.name + "' " + to_string(pass) + ")");
        }
      }
    }
  }
}

}  // namespace

namespace {

// Not simulated: the entry says so and counts the pass's MACs, which are
// priced on the fp32 baseline (docs/formats.md#unquantized-layers).
json unquantized_entry(const QuantLayer& layer, Pass pass, BwdData bwd_data) {
  json entry = {{"name", layer.name}, {"pass", to_string(pass)}, {"unquantized", true}};
  int64_t pass_macs = 0, pass_useful = 0;
  const int64_t blocks = pass_blocks(layer, pass, bwd_data);
  for (int64_t b = 0; b < blocks; ++b) {
    const BlockPass block = lower_block(layer, pass, b, bwd_data);
    pass_macs += block.lp.macs();
    pass_useful += block.lp.useful_macs();
  }
  entry["macs"] = pass_macs;
  entry["macs_useful"] = pass_useful;
  // Its compulsory traffic: each operand element read and each result written
  // once, as fp32 words, which energy prices in every design alike.
  const Shape result = lower_block(layer, pass, 0, bwd_data).natural_shape;
  entry["fp32_words"] = {{"x", numel(layer.x(pass).shape)},
                         {"y", numel(layer.y(pass).shape)},
                         {"out", numel(result)}};
  return entry;
}

// What a process's run carries from one layer-pass to the next: the array,
// the progress line and log, the resume store and the entries so far.
struct RunState {
  const RunOptions& opt;
  OutputSet& outputs;
  std::map<std::string, const PlannedPass*> selected;  // this process's layer-passes by key
  PassClaims claims;  // with --claims: a selected layer-pass runs here only once claimed
  std::optional<ResumeStore> store;
  hw::ArraySim sim;
  ProgressLine progress;
  PassLog log;
  json layers = json::array();
  int width;
  std::map<std::string, std::vector<const VectorOp*>> vector_ops;  // by the layer they follow
};

// The passes of layer `li` this process runs: each taken from the resume
// store, or computed (tensors read and quantized once, when first needed).
void run_layer(RunState& st, const Trace& trace, size_t li) {
  const RunOptions& opt = st.opt;
  const LayerTensors& listed = trace.layers[li];
  const auto own = opt.layer_settings.find(listed.name);
  const LayerSettings* settings = own == opt.layer_settings.end() ? nullptr : &own->second;
  std::optional<LayerTensors> tensors;
  std::optional<QuantLayer> quantized;
  for (Pass pass : settings ? settings->passes : opt.passes) {
    const auto it = st.selected.find(listed.name + " " + to_string(pass));
    if (it == st.selected.end()) continue;  // another shard's, or no grad_output: forward only
    if (!st.claims.take(it->first)) continue;  // another worker's
    const PlannedPass& pp = *it->second;
    if (st.store) {
      // The shapes' product count bounds the kept macs from below; a decomposed
      // backward-data pass's is only an estimate here.
      const bool exact = !(opt.cfg.array.bwd_data == BwdData::decompose && pass == Pass::bwd_data);
      if (std::optional<json> kept = st.store->find(listed.name, pass, exact ? pp.est_macs : -1)) {
        if (!opt.quiet) print_row(*kept, st.width);
        st.log.finished(pp, kept->at("macs").get<int64_t>(), 0.0, true);
        st.layers.push_back(std::move(*kept));
        continue;
      }
    }
    const auto t0 = Clock::now();
    if (!listed.resident && !tensors) tensors = load_tensors(listed);
    const LayerTensors& t = listed.resident ? listed : *tensors;
    if (!quantized)
      quantized = quantize_layer(t, layer_formats(t.name, opt.cfg.quant, opt.layer_settings, opt.default_groups),
                                 opt.threads, settings ? settings->passes : opt.passes);
    json entry;
    const auto ops = st.vector_ops.find(t.name);
    hw::VectorWork vector = ops == st.vector_ops.end() ? hw::VectorWork{} : layer_ops_work(ops->second, pass);
    if (settings && settings->unquantized) {
      entry = unquantized_entry(*quantized, pass, opt.cfg.array.bwd_data);
      entry["vector"] = hw::vector_json(vector);
    } else {
      vector += quantizer_work(*quantized, pass, settings ? settings->passes : opt.passes);
      std::ostringstream label;
      label << "layer " << li + 1 << "/" << trace.layers.size() << " " << t.name << " " << to_string(pass);
      st.progress.set_layer(label.str());
      entry = run_pass(st.sim, t, *quantized, pass, opt, st.progress, st.outputs);
      entry["vector"] = hw::vector_json(vector);
      if (opt.accuracy) entry["are"] = layer_are(t, *quantized);
      st.progress.clear();
    }
    if (st.store) st.store->keep(entry);
    if (!opt.quiet) print_row(entry, st.width);
    st.log.finished(pp, entry.at("macs").get<int64_t>(), seconds_since(t0), false);
    st.layers.push_back(std::move(entry));
  }
}

// The order a process walks the layers in: the trace's; with claims, by each
// layer's largest planned layer-pass, largest first (ties in trace order), so
// the longest layer-passes start at once and the short ones fill in at the end.
std::vector<size_t> layer_order(const Trace& trace, const std::vector<PlannedPass>& plan, bool claiming) {
  std::map<std::string, int64_t> largest;
  for (const PlannedPass& pp : plan) largest[pp.layer] = std::max(largest[pp.layer], pp.est_cost());
  std::vector<size_t> order(trace.layers.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (claiming)
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return largest[trace.layers[a].name] > largest[trace.layers[b].name];
    });
  return order;
}

// Whether another process has claimed one of the layer's layer-passes.
bool layer_begun(const RunState& st, const std::string& layer) {
  for (const auto& [key, pp] : st.selected)
    if (pp->layer == layer && st.claims.taken(key)) return true;
  return false;
}

}  // namespace

// Buffers reused across layer-passes: every pass allocates its lowering,
// planes and results afresh, and glibc hands blocks above its (dynamic) mmap
// threshold back to the kernel on free, so the next pass paid a page fault
// per first-touched page (a quarter of the non-array time in the profile,
// docs/architecture.md#no-waste-around-the-array). Blocks up to 32 MiB (the
// largest threshold glibc takes) now come from the heap, and up to 64 MiB of
// freed heap stays mapped for the next pass: enough for a pass's tables at
// small batches, bounded so that -j workers do not each keep their peak.
static void reuse_freed_buffers() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

RunResult run_trace(const Trace& trace, const RunOptions& opt, OutputSet& outputs) {
  reuse_freed_buffers();
  check_buffers_fit(trace, opt);
  const std::vector<PlannedPass> plan = plan_run(trace, opt);
  const bool claiming = !opt.claims_dir.empty();
  const std::vector<PlannedPass> mine =
      opt.shard_count > 1 && !claiming ? shard_plan(plan, opt.shard_index, opt.shard_count) : plan;
  json identity;
  if (opt.shard_count > 1 || !opt.resume_dir.empty()) identity = run_identity(trace, opt);
  std::optional<ResumeStore> store;  // refuses another run's directory before the array is built
  if (!opt.resume_dir.empty()) store.emplace(opt.resume_dir, identity);
  RunState st{opt, outputs, {}, PassClaims(opt.claims_dir), std::move(store), hw::ArraySim(opt.cfg, opt.vcd_path),
              ProgressLine(opt.progress), PassLog(opt.progress, eta_items(mine)), json::array(),
              layer_column_width(trace), vector_ops_by_layer(trace)};
  for (const PlannedPass& pp : mine) st.selected[pp.key()] = &pp;
  if (!opt.quiet) print_header(st.width);
  // A layer another worker has begun is left for last: two workers on one
  // layer would each read and quantize its tensors.
  std::vector<size_t> begun;
  for (size_t li : layer_order(trace, plan, claiming))
    if (claiming && layer_begun(st, trace.layers[li].name)) begun.push_back(li);
    else run_layer(st, trace, li);
  for (size_t li : begun) run_layer(st, trace, li);
  RunResult result;
  result.report = assemble_report(config_json(opt.cfg), {{"dir", trace.dir}, {"model", trace.model}},
                                  std::move(st.layers), opt.check, !opt.layer_settings.empty());
  result.all_bit_exact = !opt.check || result.report["total"]["bit_exact"].get<bool>();
  if (opt.shard_count > 1)
    result.report["shard"] = {{"index", opt.shard_index}, {"count", opt.shard_count}, {"run", identity}};
  if (!opt.quiet) print_total(result.report, opt.check);
  return result;
}

}  // namespace mls
