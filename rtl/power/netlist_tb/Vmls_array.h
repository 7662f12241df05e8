#pragma once
// The whole array's gate-level netlist (Verilated with the prefix
// Vgates_array by rtl/power/array_energy.py) under the name rtl/tb/tb_array.cpp
// drives, Vmls_array, so the netlist runs on the very testbench the RTL does.
// It adds a toggle window: Verilator's toggle counters (--coverage-toggle,
// one per net bit, counting both transitions) are zeroed at the rising edge
// that starts the pass (start_i high) and written at the rising edge that
// raises done_o, so the operand loading before the pass is not counted.
// $MLS_TOGGLE_OUT names the counters' file (default toggles.dat); the window's
// rising edges go to the same name plus ".edges".
#include <cstdlib>
#include <fstream>
#include <string>

#include <verilated_cov.h>

#include "Vgates_array.h"

class Vmls_array : public Vgates_array {
 public:
  // Verilated ports start at 0, so the testbench's reset (rst_ni 0 at the
  // first eval) would be no negative edge and the netlist's asynchronously
  // reset flip-flops would keep their initial state: raise rst_ni first.
  Vmls_array() {
    rst_ni = 1;
    Vgates_array::eval();
  }

  // Hides the base's eval (the testbench calls it on this type).
  void eval() {
    const bool rising = clk_i && !last_clk_;
    if (rising && start_i && !open_) {
      contextp()->coveragep()->zero();
      open_ = true;
    }
    Vgates_array::eval();
    if (rising && open_ && !closed_) {
      ++edges_;
      if (done_o) close();
    }
    last_clk_ = clk_i;
  }

 private:
  void close() {
    closed_ = true;
    const char* env = std::getenv("MLS_TOGGLE_OUT");
    const std::string path = env ? env : "toggles.dat";
    contextp()->coveragep()->write(path.c_str());
    std::ofstream(path + ".edges") << edges_ << "\n";
  }

  bool last_clk_ = false, open_ = false, closed_ = false;
  unsigned long long edges_ = 0;
};
