#include "sim/run/run.h"

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
#include "sim/run/report.h"

namespace mls {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Prints "layer 3/19 name pass 45%" to stderr at most twice a second.
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled && ::isatty(2)) {}
  void set_layer(const std::string& label) { label_ = label; }
  void operator()(uint64_t done, uint64_t total) {
    if (!enabled_ || seconds_since(last_) < 0.5) return;
    last_ = Clock::now();
    std::fprintf(stderr, "\r%-60s %5.1f%%", label_.c_str(), total ? 100.0 * double(done) / double(total) : 100.0);
    std::fflush(stderr);
    shown_ = true;
  }
  void clear() {
    if (shown_) std::fprintf(stderr, "\r%-68s\r", "");
    shown_ = false;
  }

 private:
  bool enabled_;
  bool shown_ = false;
  std::string label_;
  Clock::time_point last_ = Clock::now();
};

// --resume DIR: DIR/run.json holds the run's identity (run_identity), and
// DIR/<layer>.<pass>.json each finished layer-pass's report entry, written
// through a temporary file and renamed, so a run killed at any moment leaves
// only whole entries. A directory of another run is refused, never mixed.
class ResumeStore {
 public:
  ResumeStore(const std::string& dir, const json& identity) : dir_(dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (!std::filesystem::is_directory(dir, ec)) throw Error("--resume " + dir + ": cannot create the directory");
    const std::string id_path = dir + "/run.json";
    if (std::filesystem::exists(id_path, ec)) {
      if (read_json_file(id_path, "--resume run identity") != identity)
        throw Error("--resume " + dir + " holds another run's layer-passes (other trace, config, flags or layers); "
                    "use a new directory");
    } else {
      write_file_atomic(id_path, json_text(identity));
    }
  }
  std::optional<json> find(const std::string& layer, Pass pass) const {
    const std::string path = entry_path(layer, pass);
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return std::nullopt;
    json e = read_json_file(path, "--resume entry");
    if (!e.is_object() || string_field(e, "name") != layer || string_field(e, "pass") != to_string(pass))
      throw Error(path + ": not the --resume entry of " + layer + " " + to_string(pass));
    return e;
  }
  void keep(const json& entry) const {
    write_file_atomic(entry_path(entry.at("name").get<std::string>(), parse_pass(entry.at("pass").get<std::string>())),
                      json_text(entry));
  }

 private:
  std::string entry_path(const std::string& layer, Pass pass) const {
    return dir_ + "/" + layer + "." + to_string(pass) + ".json";
  }
  std::string dir_;
};

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

// Bitwise comparison; prints the first few mismatches.
uint64_t count_mismatches(const TensorF& hw, const TensorF& golden, const std::string& label) {
  uint64_t bad = 0;
  for (int64_t i = 0; i < hw.size(); ++i) {
    const float h = hw.data[size_t(i)], g = golden.data[size_t(i)];
    if (bits_of(h) == bits_of(g)) continue;
    if (++bad <= 5)
      std::cerr << "  mismatch " << label << " at " << index_str(i, hw.shape) << ": array " << h << " (0x" << std::hex
                << bits_of(h) << "), golden " << g << " (0x" << bits_of(g) << std::dec << ")\n";
  }
  return bad;
}

// --operands: the dequantized X and Y the pass consumed, in their natural shapes.
void stage_operands(const QuantLayer& layer, Pass pass, const std::string& dir, OutputSet& outputs) {
  for (Operand which : {layer.kind->x_operand(pass), layer.kind->y_operand(pass)})
    outputs.stage(operand_path(dir, layer.name, pass, which), npy_bytes(dequantize(layer.operand(which, pass))));
}

// A pass run block by block (LayerKind::blocks): the results scattered into
// the pass's result, the events and times summed.
struct BlockedRun {
  TensorF out, golden;
  Stats stats;
  hw::Traffic traffic;
  double seconds = 0, golden_seconds = 0;
  int64_t blocks = 0, macs = 0, useful_macs = 0;
  uint64_t golden_overflow = 0;
  int acc_bits_needed = 1;  // the widest need of its blocks
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
            {"acc_bits_needed", run.acc_bits_needed},
            {"traffic", hw::traffic_json(run.traffic)},
            {"sim_seconds", run.seconds},
            {"sim_macs_per_second", run.seconds > 0 ? double(run.macs) / run.seconds : 0.0},
            {"bit_exact", nullptr}};
  if (run.blocks != 1) e["blocks"] = run.blocks;
  // The chunk the pass ran with (shorter than --chunk when its rows were filled).
  e["chunk"] = Mapping::for_pass(array, pass).chunk_for(lp.k, lp.g);
  return e;
}

// Every block of the pass through the array (and, with `check`, the golden
// model beside it), one after another; only one block's tables are alive at a time.
BlockedRun run_blocks(hw::ArraySim& sim, const QuantLayer& layer, Pass pass, bool check, ProgressLine& progress) {
  const QuantTensor& x = layer.x(pass);
  const QuantTensor& y = layer.y(pass);
  BlockedRun r;
  const BwdData bwd_data = sim.config().array.bwd_data;
  r.blocks = pass_blocks(layer, pass, bwd_data);
  for (int64_t b = 0; b < r.blocks; ++b) {
    BlockPass block = lower_block(layer, pass, b, bwd_data);
    if (b == 0) {
      r.out = TensorF(block.natural_shape);
      if (check) r.golden = TensorF(block.natural_shape);
    }
    // The golden model runs beside the simulation, on a thread of its own: it
    // only reads the lowering and the operands, and SystemC stays on this one.
    std::future<std::pair<GoldenResult, double>> golden;
    if (check)
      golden = std::async(std::launch::async, [&block, &x, &y, &sim] {
        const auto g0 = Clock::now();
        GoldenResult result = golden_pass(block.lp, x, y, sim.config().array);
        return std::make_pair(std::move(result), seconds_since(g0));
      });
    const hw::SimulatedPass simulated =
        hw::simulate_pass(sim, block.lp, x, y, [&](uint64_t done, uint64_t total) { progress(done, total); });
    scatter_block(simulated.out, block, r.out);
    r.stats += simulated.stats;
    r.traffic += simulated.traffic;
    r.acc_bits_needed = std::max(r.acc_bits_needed, simulated.acc_bits_needed);
    r.seconds += simulated.seconds;
    r.macs += block.lp.macs();
    r.useful_macs += block.lp.useful_macs();
    if (check) {
      const auto [result, seconds] = golden.get();
      r.golden_seconds += seconds;
      scatter_block(result.out, block, r.golden);
      r.golden_overflow += result.acc_overflow;
    }
    if (b == 0) {
      r.first.pass = pass;
      r.first.m = block.lp.m, r.first.p = block.lp.p, r.first.g = block.lp.g, r.first.k = block.lp.k;
    }
  }
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
          {"acc_bits", array.acc_bits}};
}

// --check: every output bit and the overflow count against the golden model.
bool check_against_golden(const BlockedRun& run, const std::string& label, json& entry) {
  entry["golden_seconds"] = run.golden_seconds;
  const uint64_t bad = count_mismatches(run.out, run.golden, label);
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
  const BlockedRun run = run_blocks(sim, layer, pass, opt.check, progress);
  json entry = pass_entry(layer.name, pass, run, opt.cfg.array);
  entry["formats"] = pass_formats(layer, pass, opt.cfg.array);
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

void print_header(int width) {
  std::printf("%-*s %-10s %12s %12s %11s %7s %9s  %s\n", width, "layer", "pass", "MACs", "useful MACs", "cycles",
              "util", "overflow", "bit-exact");
}

void print_row(const json& e, int width) {
  if (e.value("unquantized", false)) {
    std::printf("%-*s %-10s unquantized: %lld MACs, not simulated\n", width, e["name"].get<std::string>().c_str(),
                e["pass"].get<std::string>().c_str(), (long long)e["macs"].get<int64_t>());
    return;
  }
  std::printf("%-*s %-10s %12lld %12lld %11llu %6.1f%% %9llu  %s\n", width, e["name"].get<std::string>().c_str(),
              e["pass"].get<std::string>().c_str(), (long long)e["macs"].get<int64_t>(),
              (long long)e["macs_useful"].get<int64_t>(),
              (unsigned long long)e["cycles"].get<uint64_t>(), 100.0 * e["utilization"].get<double>(),
              (unsigned long long)e["events"]["acc_overflow"].get<uint64_t>(),
              e["bit_exact"].is_null() ? "-" : (e["bit_exact"].get<bool>() ? "yes" : "NO"));
}

void print_total(const json& report, bool check) {
  const json& t = report.at("total");
  std::printf("total: %lld MACs (%lld useful: both operands tensor elements) in %llu cycles (utilization %.1f%%), "
              "simulated at %.3g MACs/s%s\n",
              (long long)t.at("macs").get<int64_t>(), (long long)t.at("macs_useful").get<int64_t>(),
              (unsigned long long)t.at("cycles").get<uint64_t>(), 100.0 * t.at("utilization").get<double>(),
              t.at("sim_macs_per_second").get<double>(),
              check ? (t.at("bit_exact").get<bool>() ? ", all bit-exact" : ", MISMATCHES") : "");
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The planning estimates of one layer-pass (see PlannedPass). A decomposed
// backward-data pass (--bwd-data decompose) skips the zero-insertion taps:
// about one tap in stride_h x stride_w remains.
PlannedPass planned_pass(const LayerTensors& t, Pass pass, const ArrayConfig& array) {
  const LayerKind::ProductSize size = t.kind->product_size(pass);
  int64_t r = size.r;
  if (array.bwd_data == BwdData::decompose && pass == Pass::bwd_data && decomposes(*t.kind)) {
    const ConvParams& q = dynamic_cast<const Conv2d&>(*t.kind).params();
    r = std::max<int64_t>(1, r / (int64_t(q.stride_h) * q.stride_w));
  }
  const int64_t blocks = t.kind->blocks(pass);
  PlannedPass pp{t.name, pass, blocks * size.m * size.p * r, 0};
  pp.est_cycles = blocks * ceil_div(size.m, array.cols) * size.p * ceil_div(r, array.rows);
  return pp;
}

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)v);
  return buf;
}

}  // namespace

int layer_column_width(const Trace& trace) {
  // As wide as the longest name, so long names keep the columns aligned.
  size_t width = 22;
  for (const LayerTensors& t : trace.layers) width = std::max(width, t.name.size());
  return int(width);
}

void print_report_table(const json& report, int layer_width, bool check) {
  print_header(layer_width);
  for (const json& e : report.at("layers")) print_row(e, layer_width);
  print_total(report, check);
}

std::string PlannedPass::key() const { return layer + " " + to_string(pass); }

PassLog::PassLog(bool enabled, size_t passes, int64_t est_total)
    : enabled_(enabled), passes_(passes), est_total_(est_total), start_(std::chrono::steady_clock::now()) {}

void PassLog::finished(const PlannedPass& pp, int64_t macs, double seconds, bool resumed, const std::string& tag) {
  ++done_;
  est_done_ += pp.est_cost();
  if (!resumed) est_computed_ += pp.est_cost();
  if (!enabled_) return;
  const int64_t left = std::max<int64_t>(0, est_total_ - est_done_);
  std::string eta = "-";
  if (done_ == passes_ || left == 0)
    eta = "0:00";
  else if (est_computed_ > 0)
    eta = exec::duration_str(seconds_since(start_) * double(left) / double(est_computed_));
  std::fprintf(stderr, "%s: %zu/%zu %s %s: %lld MACs in %.3g s%s, ETA %s\n", tag.c_str(), done_, passes_,
               pp.layer.c_str(), to_string(pp.pass).c_str(), (long long)macs, seconds, resumed ? " (resumed)" : "",
               eta.c_str());
  std::fflush(stderr);
}

std::vector<PlannedPass> plan_run(const Trace& trace, const RunOptions& opt) {
  std::vector<PlannedPass> plan;
  for (const LayerTensors& t : trace.layers) {
    const auto own = opt.layer_settings.find(t.name);
    const std::vector<Pass>& passes = own == opt.layer_settings.end() ? opt.passes : own->second.passes;
    for (Pass pass : passes) {
      // QuantLayer::has_pass's rule: no grad_output, forward only.
      const auto present = [&](Operand o) { return o != Operand::grad_output || t.grad_output.has_value(); };
      if (!present(t.kind->x_operand(pass)) || !present(t.kind->y_operand(pass))) continue;
      plan.push_back(planned_pass(t, pass, opt.cfg.array));
    }
  }
  return plan;
}

std::vector<PlannedPass> shard_plan(const std::vector<PlannedPass>& plan, int index, int count) {
  std::vector<size_t> order(plan.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return plan[a].est_cost() > plan[b].est_cost(); });
  std::vector<int64_t> load(size_t(std::max(count, 1)), 0);
  std::vector<int> owner(plan.size());
  for (size_t i : order) {
    const size_t lightest = size_t(std::min_element(load.begin(), load.end()) - load.begin());
    owner[i] = int(lightest) + 1;
    load[lightest] += plan[i].est_cost();
  }
  std::vector<PlannedPass> mine;
  for (size_t i = 0; i < plan.size(); ++i)
    if (owner[i] == index) mine.push_back(plan[i]);
  return mine;
}

json run_identity(const Trace& trace, const RunOptions& opt) {
  uint64_t h = fnv1a64(read_input_file(trace.dir + "/manifest.json", "manifest", kMaxTextFileBytes));
  for (const LayerTensors& t : trace.layers) {
    h = splitmix64_mix(fnv1a64(t.name, h) ^ (t.resident ? tensors_fingerprint(t) : t.fingerprint));
  }
  json plan = json::array();
  for (const PlannedPass& pp : plan_run(trace, opt)) plan.push_back(pp.key());
  // --unquantized (and a preset's) marks layers beside the layer-config file.
  json unquantized = json::array();
  for (const auto& [name, s] : opt.layer_settings)
    if (s.unquantized) unquantized.push_back(name);
  return {{"config", config_json(opt.cfg)}, {"trace_fingerprint", hex64(h)}, {"check", opt.check},
          {"accuracy", opt.accuracy}, {"layer_config", hex64(opt.layer_config_hash)}, {"unquantized", unquantized},
          {"plan", plan}};
}

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

std::string acc_overflow_warning(const json& report) {
  const json& total = report.at("total");
  const json& ev = total.at("events");
  const uint64_t overflow = ev.at("acc_overflow").get<uint64_t>(), adds = ev.at("acc_add").get<uint64_t>();
  if (overflow == 0) return "";
  const json& cfg = report.at("config");
  const int needed = total.at("acc_bits_needed").get<int>();
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.2e", adds ? double(overflow) / double(adds) : 0.0);
  return "warning: " + std::to_string(overflow) + " of " + std::to_string(adds) +
         " local-accumulator additions left the " + std::to_string(cfg.at("acc_bits").get<int>()) +
         "-bit range (rate " + rate + ", " + cfg.at("acc_overflow").get<std::string>() + "); " +
         (needed <= ArrayConfig::kAccBits.hi
              ? "--acc-bits " + std::to_string(needed) + " would have none"
              : "no accumulator up to " + std::to_string(ArrayConfig::kAccBits.hi) + " bits would have none");
}

RunResult run_trace(const Trace& trace, const RunOptions& opt, OutputSet& outputs) {
  check_buffers_fit(trace, opt);
  const std::vector<PlannedPass> plan = plan_run(trace, opt);
  const std::vector<PlannedPass> mine =
      opt.shard_count > 1 ? shard_plan(plan, opt.shard_index, opt.shard_count) : plan;
  std::map<std::string, const PlannedPass*> selected;
  int64_t est_total = 0;
  for (const PlannedPass& pp : mine) {
    selected[pp.key()] = &pp;
    est_total += pp.est_cost();
  }
  json identity;
  if (opt.shard_count > 1 || !opt.resume_dir.empty()) identity = run_identity(trace, opt);
  std::optional<ResumeStore> store;
  if (!opt.resume_dir.empty()) store.emplace(opt.resume_dir, identity);
  hw::ArraySim sim(opt.cfg, opt.vcd_path);
  ProgressLine progress(opt.progress);
  PassLog log(opt.progress, mine.size(), est_total);
  RunResult result;
  json layers = json::array();
  const int width = layer_column_width(trace);
  if (!opt.quiet) print_header(width);
  for (size_t li = 0; li < trace.layers.size(); ++li) {
    const LayerTensors& listed = trace.layers[li];
    const auto own = opt.layer_settings.find(listed.name);
    const LayerSettings* settings = own == opt.layer_settings.end() ? nullptr : &own->second;
    // Once, when a pass of this process needs them: the layer's tensors
    // (read again when the trace dropped their data) and their quantization.
    std::optional<LayerTensors> tensors;
    std::optional<QuantLayer> quantized;
    for (Pass pass : settings ? settings->passes : opt.passes) {
      const auto it = selected.find(listed.name + " " + to_string(pass));
      if (it == selected.end()) continue;  // another shard's, or no grad_output: forward only
      const PlannedPass& pp = *it->second;
      if (store) {
        if (std::optional<json> kept = store->find(listed.name, pass)) {
          if (!opt.quiet) print_row(*kept, width);
          log.finished(pp, kept->at("macs").get<int64_t>(), 0.0, true);
          layers.push_back(std::move(*kept));
          continue;
        }
      }
      const auto t0 = Clock::now();
      if (!listed.resident && !tensors) tensors = load_tensors(listed);
      const LayerTensors& t = listed.resident ? listed : *tensors;
      if (!quantized)
        quantized = quantize_layer(t, settings ? settings->quant : opt.cfg.quant, opt.threads,
                                   settings ? settings->passes : opt.passes);
      const QuantLayer& layer = *quantized;
      json entry;
      if (settings && settings->unquantized) {
        // Not simulated: the entry says so and counts the pass's MACs, which
        // are priced on the fp32 baseline (docs/formats.md#unquantized-layers).
        entry = {{"name", t.name}, {"pass", to_string(pass)}, {"unquantized", true}};
        int64_t pass_macs = 0, pass_useful = 0;
        const int64_t blocks = pass_blocks(layer, pass, opt.cfg.array.bwd_data);
        for (int64_t b = 0; b < blocks; ++b) {
          const BlockPass block = lower_block(layer, pass, b, opt.cfg.array.bwd_data);
          pass_macs += block.lp.macs();
          pass_useful += block.lp.useful_macs();
        }
        entry["macs"] = pass_macs;
        entry["macs_useful"] = pass_useful;
      } else {
        std::ostringstream label;
        label << "layer " << li + 1 << "/" << trace.layers.size() << " " << t.name << " " << to_string(pass);
        progress.set_layer(label.str());
        entry = run_pass(sim, t, layer, pass, opt, progress, outputs);
        if (opt.accuracy) entry["are"] = layer_are(t, layer);
        progress.clear();
      }
      if (store) store->keep(entry);
      if (!opt.quiet) print_row(entry, width);
      log.finished(pp, entry.at("macs").get<int64_t>(), seconds_since(t0), false);
      layers.push_back(std::move(entry));
    }
  }
  result.report = assemble_report(config_json(opt.cfg), {{"dir", trace.dir}, {"model", trace.model}}, std::move(layers), opt.check,
                                  !opt.layer_settings.empty());
  result.all_bit_exact = !opt.check || result.report["total"]["bit_exact"].get<bool>();
  if (opt.shard_count > 1)
    result.report["shard"] = {{"index", opt.shard_index}, {"count", opt.shard_count}, {"run", identity}};
  if (!opt.quiet) print_total(result.report, opt.check);
  return result;
}

}  // namespace mls
