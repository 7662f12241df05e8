#pragma once
// A bench for one pipeline block: a clock, the block (a plain class) under its
// thin module (hw_model/channels/clocked.h), a driver that writes one stimulus
// bundle per edge into the block's input register, and a monitor that records
// every valid bundle in the block's output register with the edge it was seen.
// Edge e is at time e ns; the driver writes stimulus i at edge i, so a block
// with L register stages shows its result to the monitor at edge i + 1 + L.
#include <functional>
#include <memory>
#include <systemc>
#include <utility>
#include <vector>

#include "hw_model/channels/clocked.h"
#include "hw_model/channels/pipe_reg.h"

namespace mls::hw::tb {

template <class In, class Out, class Dut>
class BlockBench : public sc_core::sc_module {
 public:
  sc_core::sc_clock clk{"clk", 1, sc_core::SC_NS};
  sc_core::sc_signal<bool> rst{"rst"};
  PipeReg<In> in_reg{"in_reg"};
  PipeReg<Out> out_reg{"out_reg"};
  std::unique_ptr<Dut> dut;
  Clocked<Dut> module;
  std::vector<In> stimulus;
  std::vector<std::pair<int, Out>> seen;  // (edge, output) for valid outputs
  // Called with each valid output at the edge it is seen, for outputs that
  // address state the block later reuses (Products' tile Y values).
  std::function<void(int, const Out&)> on_seen;

  SC_HAS_PROCESS(BlockBench);
  BlockBench(sc_core::sc_module_name name, std::function<Dut*()> make)
      : sc_module(name), dut(make()), module("dut", *dut) {
    module.clk(clk);
    module.rst(rst);
    module.in(in_reg);
    module.out(out_reg);
    SC_METHOD(drive);
    sensitive << clk.posedge_event();
    dont_initialize();
    SC_METHOD(monitor);
    sensitive << clk.posedge_event();
    dont_initialize();
  }
  // Runs until every stimulus has had `drain` further edges to come out.
  void run(int drain) { sc_core::sc_start(double(stimulus.size() + size_t(drain) + 1), sc_core::SC_NS); }

 private:
  int edge() const { return int(sc_core::sc_time_stamp() / sc_core::sc_time(1, sc_core::SC_NS)); }
  void drive() {
    const size_t e = size_t(edge());
    in_reg.next() = e < stimulus.size() ? stimulus[e] : In{};
  }
  void monitor() {
    const Out& o = out_reg.read();
    if (!o.tag.valid) return;
    seen.emplace_back(edge(), o);
    if (on_seen) on_seen(edge(), o);
  }
};

}  // namespace mls::hw::tb
