#pragma once
// A clock that has rising edges only, one per period from time 0, for
// simulations that nothing samples between edges (no VCD probe). Every block is
// sensitive to clk.pos() alone, so the falling edge of an sc_clock is a timed
// step with no process to run; and sc_clock's rising edge takes two delta
// cycles (its own edge process writes the clock signal, whose update then
// wakes the blocks). Here one method per period notifies the rising edge
// immediately, so the array's process runs in the same evaluation phase as
// the edge: one timed step and one delta cycle per period instead of two and
// four.
//
// The array sees the same thing at an edge as with an sc_clock: its process
// calls every block and then swaps the pipeline registers (DoubleBuffer),
// and signals written outside the simulation (reset) are updated
// before the first edge, which comes in the first delta cycle after
// initialisation, as sc_clock's does.
//
// read(), event() and posedge() are true during the evaluation phase of an
// edge and false otherwise (a clock whose high phase is one delta long);
// negedge_event() never fires.
//
// skip(n): the one process on the clock (MacArray, which runs the memory system)
// has already done the next n edges' work in its current activation, edges
// at which nothing reads the simulated time; the clock then notifies no
// rising edge for them, and its next one comes n + 1 periods after this one,
// as without the skip. One timed step per run of edges instead of one per
// edge.
#include <systemc>

namespace mls::hw {

class EdgeClock : public sc_core::sc_module, public sc_core::sc_signal_in_if<bool> {
 public:
  SC_HAS_PROCESS(EdgeClock);
  EdgeClock(sc_core::sc_module_name name, const sc_core::sc_time& period) : sc_module(name), period_(period) {
    SC_METHOD(tick);  // runs at initialisation: schedules the first edge
  }
  const sc_core::sc_time& period() const { return period_; }
  void skip(int edges) { skip_ += edges; }

  const sc_core::sc_event& value_changed_event() const override { return posedge_; }
  const sc_core::sc_event& posedge_event() const override { return posedge_; }
  const sc_core::sc_event& negedge_event() const override { return never_; }
  const bool& read() const override { return event() ? kHigh : kLow; }
  const bool& get_data_ref() const override { return read(); }
  bool event() const override { return edge_stamp_ == sc_core::sc_get_curr_simcontext()->change_stamp(); }
  bool posedge() const override { return event(); }
  bool negedge() const override { return false; }
  const char* kind() const override { return "EdgeClock"; }

 private:
  void tick() {
    if (started_ && skip_) {  // the next edge of the skipped ones: wait out the rest
      next_trigger(period_ * double(skip_));
      skip_ = 0;
      return;
    }
    if (started_) {
      edge_stamp_ = sc_core::sc_get_curr_simcontext()->change_stamp();
      posedge_.notify();  // immediate: the blocks run in this evaluation phase
      next_trigger(period_);
      return;
    }
    started_ = true;  // initialisation: the first edge in the next delta, as sc_clock's
    next_trigger(sc_core::SC_ZERO_TIME);
  }

  static constexpr bool kHigh = true, kLow = false;
  const sc_core::sc_time period_;
  sc_core::sc_event posedge_{"posedge"}, never_{"never"};
  bool started_ = false;
  int skip_ = 0;
  sc_dt::uint64 edge_stamp_ = ~sc_dt::uint64{0};
};

}  // namespace mls::hw
