// The model behind mls_rtl_array (array_main.cpp), built for one configuration
// of the whole RTL array (the MLS_ARR_* definitions, the Verilator -G
// parameters): runs one layer-pass, written by `mlssim vectors`, through the
// array (rtl/src/mls_array.sv) and compares every output (the output
// accumulator and the final-scaled value) bit for bit with the golden results
// in DIR. The last line printed is `cycles N mismatches M`: N counts clock
// edges from the controller's first issue to the last output write,
// inclusive (docs/architecture.md), measured on the RTL. --leave-log writes,
// per line, `tile E` for each edge E at which a chunk tile leaves the adder
// trees and `output E` for each edge at which the output accumulators finish
// an output (E counted from the first issue edge, 0), to compare with the
// SystemC model's VCD (rtl/tb/array_check.py). Exit 0: no mismatch; 1:
// mismatches; 2: bad usage or input (a vector set of another configuration
// is refused with the key that differs).
#include <chrono>
#include <cmath>
#include <ctime>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "Vmls_array.h"
#include "array_config.h"
#include "tb_common.h"
#include "tb_vector_files.h"
#if VM_TRACE
#include <verilated_vcd_c.h>
#endif

namespace mls::rtl_tb {
namespace {

constexpr int kRows = MLS_ARR_ROWS, kCols = MLS_ARR_COLS;

int tree_stages() {
  int s = 0;
  while ((1 << s) < kRows) ++s;
  return s;
}

// Refuses a vector set whose configuration or schedule the array cannot run.
void check_configuration(const std::map<std::string, std::string>& meta, const std::string& path) {
  const EmFormat ex{MLS_ARR_EX, MLS_ARR_MX}, ey{MLS_ARR_EY, MLS_ARR_MY};
  const EmFormat sx{MLS_ARR_EGX, MLS_ARR_MGX}, sy{MLS_ARR_EGY, MLS_ARR_MGY};
  const std::map<std::string, std::string> built = {
      {"x_elem", ex.name()}, {"y_elem", ey.name()}, {"x_scale", sx.name()}, {"y_scale", sy.name()},
      {"acc_bits", std::to_string(MLS_ARR_ACC_BITS)}, {"acc_overflow", MLS_ARR_WRAP ? "wrap" : "saturate"},
      {"rows", std::to_string(kRows)}, {"cols", std::to_string(kCols)}, {"dataflow", "baseline"},
      {"tree_stages", std::to_string(tree_stages())}};
  for (const auto& [key, value] : built)
    if (meta.count(key) == 0 || meta.at(key) != value)
      throw bad(path, key + " is '" + (meta.count(key) ? meta.at(key) : "") + "', the RTL array is built for '" +
                          value + "'");
}

// The pass's sizes and schedule (meta.txt).
struct Pass {
  int64_t m, p, g, k, chunk, cpg, last_len, tiles, m_tiles;
  uint32_t factor;
};

Pass read_pass(const std::map<std::string, std::string>& meta, const std::string& path) {
  auto get = [&](const char* key) { return meta_int(meta, key, path); };
  Pass n{get("m"), get("p"), get("g"), get("k"), get("chunk"), get("chunks_per_group"), get("last_chunk"),
         get("chunk_tiles"), get("m_tiles"), 0};
  n.factor = uint32_t(std::stoul(meta.at("final_scale"), nullptr, 16));
  if (n.m < 1 || n.p < 1 || n.g < 1 || n.k < 1 || n.chunk < 1) throw bad(path, "empty pass");
  // The controller takes the chunk as given (run's, possibly a balanced one
  // shorter than --chunk); the bounds it also takes must follow from it.
  const int64_t cpg = (n.k + n.chunk - 1) / n.chunk;
  const int64_t expect[][2] = {{n.cpg, cpg}, {n.last_len, n.k - (cpg - 1) * n.chunk},
                               {n.tiles, (n.g * cpg + kRows - 1) / kRows}, {n.m_tiles, (n.m + kCols - 1) / kCols}};
  for (const auto& e : expect)
    if (e[0] != e[1])
      throw bad(path, "chunks_per_group, last_chunk, chunk_tiles or m_tiles do not follow from m, g, k and chunk");
  // The memories' sizes (the -G address widths) and the 24-bit counters.
  const int64_t limits[][2] = {{n.m_tiles * n.g * n.k, int64_t(1) << MLS_ARR_XAW},  // per column bank
                               {n.p * n.g * n.k, int64_t(1) << MLS_ARR_YAW},
                               {n.m_tiles * n.g, int64_t(1) << MLS_ARR_XSAW},
                               {n.p * n.g, int64_t(1) << MLS_ARR_YSAW}};
  for (const auto& l : limits)
    if (l[0] > l[1])
      throw bad(path, "an operand of " + std::to_string(l[0]) + " codes; the RTL buffer holds " +
                          std::to_string(l[1]));
  return n;
}

class ArrayBench {
 public:
  explicit ArrayBench(const std::string& vcd) {
#if VM_TRACE
    if (!vcd.empty()) {
      Verilated::traceEverOn(true);
      trace_ = std::make_unique<VerilatedVcdC>();
      top_.trace(trace_.get(), 99);
      trace_->open(vcd.c_str());
    }
#else
    if (!vcd.empty()) throw std::runtime_error("--vcd: this model was built without tracing");
#endif
    top_.rst_ni = 0;
    top_.clk_i = 0;
    top_.eval();
    top_.rst_ni = 1;
    top_.eval();
  }
  ~ArrayBench() {
#if VM_TRACE
    if (trace_) trace_->close();
#endif
  }

  Vmls_array& top() { return top_; }

  // One clock edge; the registered outputs are read after it.
  void edge() {
    top_.clk_i = 1;
    top_.eval();
    dump();
    top_.clk_i = 0;
    top_.eval();
    dump();
    ++edges_;
  }
  uint64_t edges() const { return edges_; }

  // Writes an operand's memories through the load port: X row m (g*k codes
  // per row) into bank m % COLS from (m / COLS) * g*k, its scales from
  // (m / COLS) * g; Y (banks = 1) row p from p*g*k, its scales from p*g.
  void load(const Operand& op, int64_t g, int64_t k, int banks, int code_sel, int scale_sel) {
    top_.load_i = 1;
    for (size_t i = 0; i < op.code.size(); ++i) {
      const int64_t row = int64_t(i) / (g * k), at = int64_t(i) % (g * k);
      write(code_sel, int(row % banks), (row / banks) * g * k + at, op.code[i]);
    }
    for (size_t i = 0; i < op.scale.size(); ++i) {
      const int64_t row = int64_t(i) / g, at = int64_t(i) % g;
      write(scale_sel, int(row % banks), (row / banks) * g + at, op.scale[i]);
    }
    top_.load_i = 0;
  }

 private:
  void write(int sel, int bank, int64_t addr, uint32_t data) {
    top_.load_sel_i = uint8_t(sel);
    top_.load_bank_i = uint8_t(bank);
    top_.load_addr_i = uint32_t(addr);
    top_.load_data_i = uint16_t(data);
    edge();
  }
  void dump() {
#if VM_TRACE
    if (trace_) trace_->dump(time_);
#endif
    ++time_;
  }

  Vmls_array top_;
#if VM_TRACE
  std::unique_ptr<VerilatedVcdC> trace_;
#endif
  uint64_t edges_ = 0, time_ = 0;
};

void set_schedule(Vmls_array& top, const Pass& n) {
  top.m_i = uint32_t(n.m);
  top.m_tiles_i = uint32_t(n.m_tiles);
  top.p_i = uint32_t(n.p);
  top.g_i = uint32_t(n.g);
  top.k_i = uint32_t(n.k);
  top.gk_i = uint32_t(n.g * n.k);
  top.chunk_i = uint32_t(n.chunk);
  top.cpg_i = uint32_t(n.cpg);
  top.last_len_i = uint32_t(n.last_len);
  top.tiles_i = uint32_t(n.tiles);
  top.factor_i = n.factor;
}

// Compares the outputs written after this edge with the golden ones.
void check_outputs(const Vmls_array& top, const Pass& n, const std::vector<OutputRecord>& golden,
                   std::vector<bool>& seen, Checker& check) {
  for (int c = 0; c < kCols; ++c) {
    if (((top.out_mask_o >> c) & 1u) == 0) continue;
    const int64_t m = int64_t(top.out_mt_o) * kCols + c, p = int64_t(top.out_p_o);
    const size_t at = size_t(m * n.p + p);
    if (m >= n.m || p >= n.p || seen[at]) {
      check.fail("output m " + std::to_string(m) + " p " + std::to_string(p) + " written twice or out of range");
      continue;
    }
    seen[at] = true;
    const std::string where = "m " + std::to_string(m) + " p " + std::to_string(p);
    check.expect_eq(hex32(uint32_t(get_field(top.out_acc_o, c * 32, 32))), hex32(golden[at].acc),
                    "output accumulator, " + where);
    check.expect_eq(hex32(uint32_t(get_field(top.out_o, c * 32, 32))), hex32(golden[at].result), "output, " + where);
  }
}

// Golden outputs indexed by m * P + p.
std::vector<OutputRecord> outputs_by_index(const std::string& path, const Pass& n) {
  std::vector<OutputRecord> v = read_outputs(path);
  if (int64_t(v.size()) != n.m * n.p) throw bad(path, "does not hold m * p records");
  std::vector<OutputRecord> by(v.size());
  for (const OutputRecord& o : v) {
    if (o.m < 0 || o.m >= n.m || o.p < 0 || o.p >= n.p) throw bad(path, "a record out of range");
    by[size_t(o.m * n.p + o.p)] = o;
  }
  return by;
}

int run(const std::string& dir, const std::string& vcd, const std::string& leave_log) {
  const std::string meta_path = dir + "/meta.txt";
  const auto meta = read_meta(meta_path);
  check_configuration(meta, meta_path);
  const Pass n = read_pass(meta, meta_path);
  const Operand x = read_operand(dir + "/x.txt", n.m, n.g, n.k);
  const Operand y = read_operand(dir + "/y.txt", n.p, n.g, n.k);
  const std::vector<OutputRecord> golden = outputs_by_index(dir + "/outputs.txt", n);

  ArrayBench bench(vcd);
  Vmls_array& top = bench.top();
  bench.load(x, n.g, n.k, kCols, 0, 1);
  bench.load(y, n.g, n.k, 1, 2, 3);
  set_schedule(top, n);
  top.start_i = 1;
  bench.edge();
  top.start_i = 0;

  Checker check("array " + meta.at("layer") + " " + meta.at("pass"));
  std::vector<bool> seen(golden.size(), false);
  // A bound no correct run reaches: every block at its longest tiles, plus the pipeline.
  const uint64_t bound = uint64_t(n.m_tiles * n.p * n.tiles * n.chunk) + 64;
  int64_t first = -1, last = -1;
  std::ofstream leave;
  if (!leave_log.empty()) {
    leave.open(leave_log);
    if (!leave) throw std::runtime_error(leave_log + ": cannot write");
  }
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  for (uint64_t i = 0; i <= bound && last < 0; ++i) {
    bench.edge();
    if (first < 0 && top.issue_o) first = int64_t(bench.edges());
    if (top.out_valid_o) check_outputs(top, n, golden, seen, check);
    if (leave.is_open() && first >= 0) {
      const int64_t at = int64_t(bench.edges()) - first;
      if (top.tile_o) leave << "tile " << at << "\n";
      if (top.out_valid_o) leave << "output " << at - 1 << "\n";  // the write is one edge after the accumulator
    }
    if (top.done_o) last = int64_t(bench.edges());
  }
  if (last < 0) check.fail("no last output write within " + std::to_string(bound) + " cycles");
  for (size_t i = 0; i < seen.size(); ++i)
    if (!seen[i]) check.fail("output m " + std::to_string(i / size_t(n.p)) + " p " + std::to_string(i % size_t(n.p)) +
                             " never written");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu_seconds = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  const int status = check.finish();
  const int64_t cycles = (first >= 0 && last >= 0) ? last - first + 1 : 0;
  std::cout << "simulated " << cycles << " cycles in " << seconds << " s (" << cpu_seconds
            << " s of CPU): " << double(cycles) / seconds << " cycles/s (loading the buffers not included)\n";
  std::cout << "cycles " << cycles << " mismatches " << check.mismatches() << "\n";
  return status;
}

}  // namespace
}  // namespace mls::rtl_tb

int main(int argc, char** argv) {
  const std::string usage = "usage: mls_rtl_array_model --vectors DIR [--vcd FILE] [--leave-log FILE]\n";
  std::string dir, vcd, leave_log;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--vectors" || a == "--vcd" || a == "--leave-log") && i + 1 < argc) {
      (a == "--vectors" ? dir : a == "--vcd" ? vcd : leave_log) = argv[++i];
    } else {
      std::cerr << "mls_rtl_array: unknown argument '" << a << "'\n" << usage;
      return 2;
    }
  }
  if (dir.empty()) {
    std::cerr << usage;
    return 2;
  }
  try {
    return mls::rtl_tb::run(dir, vcd, leave_log);
  } catch (const std::exception& e) {
    std::cerr << "mls_rtl_array: error: " << e.what() << "\n";
    return 2;
  }
}
