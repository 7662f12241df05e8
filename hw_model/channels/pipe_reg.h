#pragma once
// A pipeline register between two blocks: the writer fills the next state at a
// clock edge, the reader sees the current state; the swap happens in the update
// phase, so every block reads what its predecessor wrote on the previous edge
// (the semantics of sc_signal, without copying or comparing whole arrays).
// A writer must write its register at every edge (with valid = false when idle).
#include <systemc>
#include <utility>

namespace mls::hw {

template <class T>
struct PipeInIf : virtual sc_core::sc_interface {
  virtual const T& read() const = 0;
  // Notified one delta cycle after every update that makes the register
  // valid (tag.valid), once some reader has asked for this event: a block
  // that sleeps while its input is idle wakes on it (GatedBlock).
  virtual const sc_core::sc_event& valid_event() const = 0;
};

template <class T>
struct PipeOutIf : virtual sc_core::sc_interface {
  virtual T& next() = 0;  // the state to appear after this edge
};

template <class T>
class PipeReg : public sc_core::sc_prim_channel, public PipeInIf<T>, public PipeOutIf<T> {
 public:
  explicit PipeReg(const char* name) : sc_core::sc_prim_channel(name) {}
  void init(const T& value) { current_ = next_ = value; }
  const T& read() const override { return current_; }
  T& next() override {
    request_update();
    return next_;
  }
  const sc_core::sc_event& valid_event() const override {
    notify_valid_ = true;
    return valid_event_;
  }

 private:
  void update() override {
    std::swap(current_, next_);
    if (notify_valid_ && current_.tag.valid) valid_event_.notify(sc_core::SC_ZERO_TIME);
  }
  T current_, next_;
  mutable bool notify_valid_ = false;
  sc_core::sc_event valid_event_;
};

template <class T>
using PipeIn = sc_core::sc_port<PipeInIf<T>>;
template <class T>
using PipeOut = sc_core::sc_port<PipeOutIf<T>>;

}  // namespace mls::hw
