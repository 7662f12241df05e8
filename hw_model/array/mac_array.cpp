#include "hw_model/array/mac_array.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <vector>

namespace mls::hw {

// Scalar copies of the pipeline ports for the VCD file: sc_trace needs stable
// addresses, and the pipeline registers swap their buffers every edge. A PE's
// operand codes are those its multiplier sees; an idle row or column holds
// its last ones.
struct MacArray::Probe : sc_core::sc_module {
  sc_core::sc_in<bool> clk;
  const MacArray& a;
  bool issue_valid = false, tile_last = false, output_last = false, chunk_valid = false, tree_valid = false,
       out_valid = false;
  int64_t m_tile = 0, p = 0, tile = 0;
  std::vector<uint32_t> y, x;   // [R], [R][C] element codes at the multiplier input
  std::vector<float> tree_out, out_sum;  // [C]

  SC_HAS_PROCESS(Probe);
  Probe(sc_core::sc_module_name name, const MacArray& array, int rows, int cols)
      : sc_module(name), a(array), y(size_t(rows)), x(size_t(rows) * size_t(cols)), tree_out(size_t(cols)),
        out_sum(size_t(cols)) {
    SC_METHOD(sample);
    sensitive << clk.neg();  // between edges, after the registers settled
    dont_initialize();
  }
  void sample() {
    const IssueCmd& c = a.cmd_reg.read();
    issue_valid = c.tag.valid, tile_last = c.tag.tile_last, output_last = c.tag.output_last;
    m_tile = c.tag.m_tile, p = c.tag.p, tile = c.tag.tile;
    const Operands& o = a.operand_reg.read();
    const int cols = a.cols_;
    for (int r = 0; o.tag.valid && r < a.rows_; ++r) {
      if (!o.row_active(r)) continue;
      y[size_t(r)] = o.y(r);
      for (int c = 0; c < o.active_cols; ++c) x[size_t(r * cols + c)] = o.x(r, c);
    }
    chunk_valid = a.chunk_reg.read().tag.valid;
    const ColumnValues& t = a.tree_reg.read();
    tree_valid = t.tag.valid;
    if (tree_valid) std::copy(t.value.begin(), t.value.end(), tree_out.begin());
    const ColumnValues& s = a.out_acc_reg.read();
    out_valid = s.tag.valid;
    if (out_valid) std::copy(s.value.begin(), s.value.end(), out_sum.begin());
  }
};

MacArray::MacArray(sc_core::sc_module_name name, const MlsConfig& cfg, Stats* stats, Traffic* traffic)
    : sc_module(name),
      rows_(cfg.array.rows),
      cols_(cfg.array.cols),
      memory(cfg.memory),
      controller(cfg.array, stats, &memory.x_buffer, &memory.y_buffer, &memory.out_buffer),
      operand_buffer(cfg.array, stats, traffic),
      multiplier(cfg, stats),
      local_accumulator(cfg.array, stats),
      group_scaler(cfg.array, stats),
      adder_tree(cfg.array, stats),
      output_accumulator(cfg.array, stats),
      final_scale(cfg.array, stats, &memory.out_buffer) {
  SC_METHOD(on_clock);
  sensitive << clk.pos();
  dont_initialize();
}

void MacArray::edge(uint64_t now, bool r) {
  // The memory system first: it answers the blocks' requests as of this edge.
  // Idle in reset: its first edge is the controller's first.
  if (!r) memory.edge(now);
  // Each block reads its input register's current state and writes its
  // output register's next one, so the order of the calls does not matter.
  controller.edge(cmd_reg.next(), r);
  operand_buffer.edge(cmd_reg.read(), operand_reg.next(), r);
  multiplier.edge(operand_reg.read(), product_reg.next(), r);
  local_accumulator.edge(product_reg.read(), chunk_reg.next(), r);
  cmd_reg.swap(), operand_reg.swap(), product_reg.swap();
  back_edge(r);
}

void MacArray::back_edge(bool r) {
  // The blocks after the hand-over work once per tile. Between tiles one
  // with no valid input holds no state and would write an invalid bundle;
  // when its output register's next state is one already (written two
  // edges ago), the call would change nothing that is read (an invalid
  // bundle's other fields never are), so it is left out.
  const auto idle = [r](const auto& in, const auto& out_next) { return !r && !in.tag.valid && !out_next.tag.valid; };
  if (!idle(chunk_reg.read(), scaled_reg.next())) group_scaler.edge(chunk_reg.read(), scaled_reg.next(), r);
  adder_tree.edge(scaled_reg.read(), tree_reg.next(), r);
  if (!idle(tree_reg.read(), out_acc_reg.next()))
    output_accumulator.edge(tree_reg.read(), out_acc_reg.next(), r);
  if (r || out_acc_reg.read().tag.valid) final_scale.edge(out_acc_reg.read(), r);
  chunk_reg.swap(), scaled_reg.swap(), tree_reg.swap(), out_acc_reg.swap();
}

namespace {

// A front register after `edges` quiet edges: its writer wrote the current
// bundle again at each, one step further on. Only the current state is set
// (with an odd count, in the other buffer, as the swaps would have it): the
// other is written whole before it is read again, as every writer writes a
// valid bundle's every field.
template <class Bundle>
void step_on(DoubleBuffer<Bundle>& reg, int edges) {
  if (edges & 1) reg.next() = reg.read(), reg.swap();
  reg.current().step += edges;
}

}  // namespace

int MacArray::quiet_run(uint64_t now, int edges) {
  // The memory system and the blocks after the local accumulators edge by
  // edge (a tile handed over at the run's start is still on its way
  // through them), and the burst's stops: the final-scale units' write.
  int done = 0;
  for (; done < edges && !out_acc_reg.read().tag.valid && !final_scale.done(); ++done) {
    if (!memory_ideal_) memory.edge(now + uint64_t(done));
    chunk_reg.next().tag.valid = false;  // the local accumulators: not a tile's last step
    back_edge(false);
  }
  if (!done) return 0;
  // The front at once: its registers stepped on, the controller's issues
  // (the tile's last one at its edge, the run's last, as edge() does it),
  // and the local accumulators' count of a tile's additions when the run
  // passed its first step (the product register's step on entry).
  if (product_reg.read().step == 0) local_accumulator.count_adds(product_reg.read());
  step_on(operand_reg, done), step_on(product_reg, done);
  if (done < edges) {
    controller.skip_quiet(done);
    step_on(cmd_reg, done);
    return done;
  }
  controller.skip_quiet(done - 1);
  step_on(cmd_reg, done - 1);
  controller.edge(cmd_reg.next(), false);
  cmd_reg.swap();
  return done;
}

void MacArray::on_clock() {
  // Reset is a signal written between sc_start calls: it cannot change
  // within one activation, so it is read once for the whole run of edges.
  const bool r = rst.read();
  uint64_t now = clock_edge();
  edge(now, r);
  if (!burst_clock_) return;
  // Without a VCD file: the following edges run in this activation for as
  // long as none of them reads the simulated time (the controller's first
  // issue, the final-scale units' writes and the last one's pause); the
  // clock skips them (EdgeClock::skip). The memory system counts its edges
  // from `now`, not from the time.
  // Quiet edges (Controller::quiet_steps) are done as a run.
  int edges = 0;
  while (edges < kMaxBurst && !r && !controller.first_issue_pending() && !out_acc_reg.read().tag.valid &&
         !final_scale.done()) {
    if (const int quiet = std::min(controller.quiet_steps(), kMaxBurst - edges); quiet > 0) {
      const int done = quiet_run(now + 1, quiet);
      now += uint64_t(done), edges += done;
      if (done < quiet) break;  // at a stop of the burst
      continue;
    }
    edge(++now, r);
    ++edges;
  }
  if (edges) burst_clock_->skip(edges);
}

void MacArray::load(const LayerJob& job, const MemoryPlan& plan) {
  job_ = &job;
  memory.load(plan);
  output_accumulator.load(job);
  multiplier.load(job);
  operand_buffer.load(job);
  group_scaler.load(job);
  final_scale.load(job);
}

void MacArray::start() {
  controller.start(*job_, !memory.ideal());
  memory_ideal_ = memory.ideal();
  memory.start();
}

std::vector<std::string> MacArray::block_names() {
  return {Controller::kName, OperandBuffer::kName, Multiplier::kName,  LocalAccumulator::kName,
          GroupScaler::kName, AdderTree::kName,     OutputAccumulator::kName, FinalScale::kName};
}

void MacArray::trace(sc_core::sc_trace_file* tf) {
  const int rows = rows_, cols = cols_;
  probe_ = std::make_unique<Probe>("probe", *this, rows, cols);
  probe_->clk(clk);
  Probe& p = *probe_;
  sc_core::sc_trace(tf, clk, "clk");
  sc_core::sc_trace(tf, rst, "rst");
  const std::string ctl = std::string(Controller::kName) + ".", buf = std::string(OperandBuffer::kName) + ".";
  const std::string tree = std::string(AdderTree::kName) + ".", out = std::string(OutputAccumulator::kName) + ".";
  sc_core::sc_trace(tf, p.issue_valid, ctl + "issue_valid");
  sc_core::sc_trace(tf, p.tile_last, ctl + "tile_last");
  sc_core::sc_trace(tf, p.output_last, ctl + "output_last");
  sc_core::sc_trace(tf, p.m_tile, ctl + "m_tile");
  sc_core::sc_trace(tf, p.p, ctl + "p");
  sc_core::sc_trace(tf, p.tile, ctl + "chunk_tile");
  for (int r = 0; r < rows; ++r) {
    sc_core::sc_trace(tf, p.y[size_t(r)], buf + "y_" + std::to_string(r));
    for (int c = 0; c < cols; ++c)
      sc_core::sc_trace(tf, p.x[size_t(r * cols + c)], buf + "x_" + std::to_string(r) + "_" + std::to_string(c));
  }
  sc_core::sc_trace(tf, p.chunk_valid, std::string(LocalAccumulator::kName) + ".handover");
  sc_core::sc_trace(tf, p.tree_valid, tree + "out_valid");
  sc_core::sc_trace(tf, p.out_valid, out + "out_valid");
  for (int c = 0; c < cols; ++c) {
    sc_core::sc_trace(tf, p.tree_out[size_t(c)], tree + "out_" + std::to_string(c));
    sc_core::sc_trace(tf, p.out_sum[size_t(c)], out + "out_" + std::to_string(c));
  }
}

ArraySim::ArraySim(const MlsConfig& cfg, const std::string& vcd_path)
    : cfg_(cfg), rst_("rst"), array_("mac_array", cfg_, &stats_, &traffic_) {
  array_.rst(rst_);
  if (vcd_path.empty()) {
    edge_clk_ = std::make_unique<EdgeClock>("clk", period_);
    array_.clk(*edge_clk_);
    array_.burst_on(edge_clk_.get());
  } else {
    traced_clk_ = std::make_unique<sc_core::sc_clock>("clk", period_);
    array_.clk(*traced_clk_);
    std::string base = vcd_path;
    if (base.size() > 4 && base.compare(base.size() - 4, 4, ".vcd") == 0) base.resize(base.size() - 4);
    // The kernel reports its default VCD timescale as an info message; it would
    // land between the table rows on stdout.
    sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
    vcd_ = sc_core::sc_create_vcd_trace_file(base.c_str());
    array_.trace(vcd_);
  }
}

ArraySim::~ArraySim() {
  if (vcd_) sc_core::sc_close_vcd_trace_file(vcd_);
}

namespace {

// sc_start, but an allocation that fails in a SystemC process (which the
// kernel reports as E549 "uncaught exception: std::bad_alloc") is a
// std::bad_alloc again, for the program's out-of-memory message.
void run_kernel(double ns) {
  try {
    sc_core::sc_start(ns, sc_core::SC_NS);
  } catch (const sc_core::sc_report& r) {
    if (std::strstr(r.what(), "std::bad_alloc")) throw std::bad_alloc();
    throw;
  }
}

}  // namespace

void ArraySim::begin(const LayerJob& job, const MemoryPlan& plan) {
  stats_ = Stats{};
  traffic_ = Traffic{};
  array_.local_accumulator.reset_width();
  array_.load(job, plan);
  rst_.write(true);
  run_kernel(2);  // two reset edges
  rst_.write(false);
  array_.start();
}

bool ArraySim::step() {
  if (array_.done()) return false;
  if (array_.final_scale.done())
    run_kernel(1);  // the last write-backs: edge by edge
  else
    run_kernel(1 << 16);  // returns early at sc_pause()
  return !array_.done();
}

Stats ArraySim::finish() {
  // The pass ends when its last output is written and, with a memory
  // system, back in DRAM.
  const uint64_t first = uint64_t(array_.controller.first_issue_time() / period_);
  const uint64_t last = array_.memory.last_edge(uint64_t(array_.final_scale.last_write_time() / period_));
  stats_.cycles = last - first + 1;
  // Traffic: what the buffers fetched and wrote back, and what the array read.
  Traffic& t = traffic_;
  array_.memory.dram_traffic(stats_.write_out, cfg_.array.out_bytes(), t);
  t.out_buffer_write = stats_.write_out;
  t.out_buffer_write_bytes = stats_.write_out * uint64_t(cfg_.array.out_bytes());
  if (const LayerJob* job = array_.job()) {
    t.x_buffer_read_bytes = packed_bytes(t.x_buffer_read, job->x_elem.bits(), t.x_scale_buffer_read,
                                         job->x_scale.e + job->x_scale.m);
    t.y_buffer_read_bytes = packed_bytes(t.y_buffer_read, job->y_elem.bits(), t.y_scale_buffer_read,
                                         job->y_scale.e + job->y_scale.m);
  }
  // Measured, not taken from the config: the controller issues on consecutive
  // edges and no block stalls it (stall_cycles stays 0), so the edges of the
  // span without an issue are the drain of the last issue through the
  // pipeline. The tests hold it against 6 + tree stages.
  stats_.pipeline_depth = stats_.cycles - array_.controller.issued() - stats_.stall_cycles;
  return stats_;
}

}  // namespace mls::hw
