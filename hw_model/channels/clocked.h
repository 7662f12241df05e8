#pragma once
// A thin SystemC module around one plain block (MatchLib's style): the block
// is a C++ class whose edge() function does one clock edge's work, testable
// without a simulator; Clocked gives it a clock, a reset and pipeline-register
// ports so that it runs on its own under SystemC (the block testbenches). The
// array does not use it: MacArray calls every block's edge() from its one
// process per edge (hw_model/array/mac_array.h).
//
//   Clocked<Multiplier> mul("mul", block);   // block: a Multiplier the caller owns
//   mul.clk(clk); mul.rst(rst); mul.in(operand_reg); mul.out(product_reg);
//
// A block with both an input and an output register defines
// `void edge(const In&, Out&, bool rst)` and the types In and Out; a source
// (the controller) `void edge(Out&, bool rst)` and Out only; a sink (the
// final-scale units) `void edge(const In&, bool rst)` and In only.
#include <systemc>
#include <type_traits>

#include "hw_model/channels/pipe_reg.h"

namespace mls::hw {

namespace clocked_detail {

template <class B, class = void>
struct HasIn : std::false_type {};
template <class B>
struct HasIn<B, std::void_t<typename B::In>> : std::true_type {};
template <class B, class = void>
struct HasOut : std::false_type {};
template <class B>
struct HasOut<B, std::void_t<typename B::Out>> : std::true_type {};

// The ports a block has: an input and/or an output pipeline register.
template <class B, bool In = HasIn<B>::value, bool Out = HasOut<B>::value>
struct Ports;
template <class B>
struct Ports<B, true, true> {
  PipeIn<typename B::In> in;
  PipeOut<typename B::Out> out;
  void edge(B& b, bool rst) { b.edge(in->read(), out->next(), rst); }
};
template <class B>
struct Ports<B, false, true> {
  PipeOut<typename B::Out> out;
  void edge(B& b, bool rst) { b.edge(out->next(), rst); }
};
template <class B>
struct Ports<B, true, false> {
  PipeIn<typename B::In> in;
  void edge(B& b, bool rst) { b.edge(in->read(), rst); }
};

}  // namespace clocked_detail

template <class Block>
class Clocked : public sc_core::sc_module, public clocked_detail::Ports<Block> {
 public:
  sc_core::sc_in<bool> clk;
  sc_core::sc_in<bool> rst;

  SC_HAS_PROCESS(Clocked);
  Clocked(sc_core::sc_module_name name, Block& block) : sc_module(name), block_(block) {
    SC_METHOD(on_clock);
    sensitive << clk.pos();
    dont_initialize();
  }

 private:
  void on_clock() { this->edge(block_, rst.read()); }
  Block& block_;
};

}  // namespace mls::hw
