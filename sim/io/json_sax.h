#pragma once
// A SAX pass over JSON text that builds nothing: nlohmann's events reduced to
// one hook per value, with the key path of the value being read and a depth
// limit. The budget check of parse_json_text (sim/io/json_file.cpp) and the
// strict syntax check of topologies (sim/synth/topology.cpp) are two of them.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/io/json_file.h"

namespace mls {

class JsonSaxWalk : public nlohmann::json_sax<nlohmann::json> {
 public:
  bool null() override { return scalar(); }
  bool boolean(bool) override { return scalar(); }
  bool number_integer(number_integer_t) override { return scalar(); }
  bool number_unsigned(number_unsigned_t) override { return scalar(); }
  bool number_float(number_float_t, const string_t&) override { return scalar(); }
  bool string(string_t&) override { return scalar(); }
  bool binary(binary_t&) override { return scalar(); }
  bool start_object(std::size_t) override { return open(false); }
  bool start_array(std::size_t) override { return open(true); }
  bool key(string_t& k) override {
    frames_.back().key = k;
    return true;
  }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }

  // The key path of the value being read ("layers[2].weight[1]").
  std::string path() const {
    std::string p;
    for (const Frame& f : frames_)
      p += f.array ? "[" + std::to_string(f.index) + "]" : (p.empty() ? "" : ".") + f.key;
    return p;
  }
  // Whether the walk stopped at a container nested deeper than kMaxJsonDepth.
  bool too_deep() const { return too_deep_; }

 protected:
  // Every value, a container before it opens; false stops the walk.
  virtual bool on_value() { return true; }
  // The containers around the value being read, outermost first: whether each
  // is an array, the key last read in an object, the index in an array.
  struct Frame {
    bool array;
    std::string key;
    size_t index = 0;
  };
  const std::vector<Frame>& frames() const { return frames_; }

 private:
  bool scalar() { return on_value() && done(); }
  bool open(bool array) {
    if (!on_value()) return false;
    if (frames_.size() >= size_t(kMaxJsonDepth)) {
      too_deep_ = true;
      return false;
    }
    frames_.push_back({array, "", 0});
    return true;
  }
  bool close() {
    frames_.pop_back();
    return done();
  }
  // A value ended: the next one in its array has the next index.
  bool done() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
    return true;
  }
  std::vector<Frame> frames_;
  bool too_deep_ = false;
};

}  // namespace mls
