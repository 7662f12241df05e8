#pragma once
// Clock gating for a block that has nothing to do while its input register is
// idle (the group scalers, adder trees, output accumulators and final-scale
// units see one valid input per chunk tile): instead of running at every edge
// to find its input invalid and write an invalid output, the block's method
// sleeps until its input register takes a valid value or reset changes, then
// runs from the next edge on. It is the same machine: a sleeping block's
// output register was written invalid at its last edge and stays so (no
// writer, no swap), its state does not change, and the edge at which it
// first sees the valid input is the one at which it would have seen it.
//
//   void on_clock() {
//     if (!clk.posedge()) return;  // woken between edges: run from the next one
//     ... the edge's work ...
//     if (idle) gate_.sleep();
//   }
#include <systemc>

#include "hw_model/channels/pipe_reg.h"

namespace mls::hw {

class ClockGate {
 public:
  // From end_of_elaboration (the ports are bound by then).
  template <class T>
  void arm(const PipeIn<T>& in, const sc_core::sc_in<bool>& rst) {
    wake_ |= in->valid_event();
    wake_ |= rst.value_changed_event();
  }
  // The method's next run: at the wake-up, not at the next edge.
  void sleep() const { sc_core::next_trigger(wake_); }

 private:
  sc_core::sc_event_or_list wake_;
};

}  // namespace mls::hw
