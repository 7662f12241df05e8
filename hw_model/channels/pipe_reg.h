#pragma once
// Pipeline registers. DoubleBuffer is the register itself, plain C++: the
// writer fills the next state at a clock edge, the reader sees the current
// state, and swap() at the end of the edge makes the next state current, so
// every block reads what its predecessor wrote on the previous edge whatever
// order the blocks run in (the semantics of sc_signal, without copying or
// comparing whole bundles). A writer writes its register at every edge (with
// valid = false when idle): after a swap the next state holds the bundle of
// two edges ago. The array (MacArray) holds its registers as DoubleBuffers
// and swaps them at the end of its one process per edge.
//
// PipeReg is the same register as a SystemC channel, swapped in the update
// phase, for a block run on its own under a thin module (clocked.h): the
// block testbenches.
#include <cstddef>
#include <systemc>
#include <utility>

namespace mls::hw {

template <class T>
class DoubleBuffer {
 public:
  const T& read() const { return *at(offset_); }
  T& next() { return *at(offset_ ^ sizeof(T)); }  // the state to appear after this edge
  void swap() { offset_ ^= sizeof(T); }  // the two states trade roles: nothing is copied or moved
  // The current state, changed in place: a run of edges at which the writer
  // only moved its bundle on, done at once (MacArray's quiet edges).
  T& current() { return *at(offset_); }

 private:
  // The current state's byte offset in state_ (0 or sizeof(T)) rather than
  // its index: the array's process looks both states of seven registers up
  // at every edge, and an offset needs no multiply by the bundle's size.
  T* at(size_t offset) const {
    return reinterpret_cast<T*>(reinterpret_cast<char*>(const_cast<T*>(state_)) + offset);
  }
  T state_[2];
  size_t offset_ = 0;
};

template <class T>
struct PipeInIf : virtual sc_core::sc_interface {
  virtual const T& read() const = 0;
};

template <class T>
struct PipeOutIf : virtual sc_core::sc_interface {
  virtual T& next() = 0;
};

template <class T>
class PipeReg : public sc_core::sc_prim_channel, public PipeInIf<T>, public PipeOutIf<T> {
 public:
  explicit PipeReg(const char* name) : sc_core::sc_prim_channel(name) {}
  const T& read() const override { return reg_.read(); }
  T& next() override {
    request_update();
    return reg_.next();
  }

 private:
  void update() override { reg_.swap(); }
  DoubleBuffer<T> reg_;
};

template <class T>
using PipeIn = sc_core::sc_port<PipeInIf<T>>;
template <class T>
using PipeOut = sc_core::sc_port<PipeOutIf<T>>;

}  // namespace mls::hw
