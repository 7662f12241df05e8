#pragma once
// What the program is doing, in words, for the one line `main` prints when
// memory runs out ("out of memory while reading the trace t/"): a command
// names its phases with a Doing that lives as long as the phase.
//
// By the time main catches std::bad_alloc the phases have been unwound, so a
// Doing destroyed by an exception hands its words to unwound(): the innermost
// phase the exception left. Nothing here allocates while unwinding (a string
// is moved, and the stack's capacity is reserved).
#include <exception>
#include <string>
#include <utility>
#include <vector>

namespace mls {

class Doing {
 public:
  explicit Doing(std::string what) : what_(std::move(what)), uncaught_(std::uncaught_exceptions()) {
    unwound().clear();  // a phase started after an exception was handled: that one is over
    stack().push_back(this);
  }
  ~Doing() {
    stack().pop_back();
    if (std::uncaught_exceptions() > uncaught_ && unwound().empty()) unwound() = std::move(what_);
  }
  Doing(const Doing&) = delete;
  Doing& operator=(const Doing&) = delete;

  // The phase an exception left, else the innermost running one, else `fallback`.
  static const std::string& current(const std::string& fallback) {
    if (!unwound().empty()) return unwound();
    return stack().empty() ? fallback : stack().back()->what_;
  }

 private:
  static std::vector<const Doing*>& stack() {
    thread_local std::vector<const Doing*> s = [] {
      std::vector<const Doing*> v;
      v.reserve(64);  // pushes within this depth never allocate
      return v;
    }();
    return s;
  }
  static std::string& unwound() {
    thread_local std::string s;
    return s;
  }
  std::string what_;
  int uncaught_;
};

}  // namespace mls
