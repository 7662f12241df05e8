#include "sim/io/layer_tensors.h"

#include <cstring>
#include <stdexcept>

#include "ref/core/error.h"
#include "ref/core/rng.h"

namespace mls {

// Four independent SplitMix64 chains over the data's 8-byte words (a single
// chain is one serial multiply chain per element, the longest part of reading
// a large trace), then folded together with the element count.
TensorFingerprint::TensorFingerprint(uint64_t h, const Shape& shape) {
  for (int64_t d : shape) h = splitmix64_mix(h ^ uint64_t(d));
  lane_[0] = h, lane_[1] = h ^ 0x9E3779B97F4A7C15ULL;
  lane_[2] = h ^ 0xD1B54A32D192ED03ULL, lane_[3] = h ^ 0x8CB92BA72F3D8DD7ULL;
}

void TensorFingerprint::add(const float* values, size_t count) {
  if (tail_) throw std::logic_error("TensorFingerprint::add after a block of other than 8k values");
  const auto* bytes = reinterpret_cast<const unsigned char*>(values);
  const size_t nbytes = count * sizeof(float);
  size_t i = 0;
  for (; i + 32 <= nbytes; i += 32) {
    for (int j = 0; j < 4; ++j) {
      uint64_t word;
      std::memcpy(&word, bytes + i + 8 * j, sizeof word);
      lane_[j] = splitmix64_mix(lane_[j] ^ word);
    }
  }
  for (; i < nbytes; i += sizeof(uint32_t)) {
    uint32_t bits;
    std::memcpy(&bits, bytes + i, sizeof bits);
    lane_[0] = splitmix64_mix(lane_[0] ^ bits);
    tail_ = true;
  }
  count_ += count;
}

uint64_t TensorFingerprint::value() const {
  uint64_t h = splitmix64_mix(lane_[0] ^ uint64_t(count_));
  for (int j = 1; j < 4; ++j) h = splitmix64_mix(h ^ lane_[j]);
  return h;
}

namespace {

uint64_t fold(uint64_t h, const TensorF& t) {
  TensorFingerprint f(h, t.shape);
  f.add(t.data.data(), t.data.size());
  return f.value();
}

}  // namespace

uint64_t tensors_fingerprint(const LayerTensors& t) {
  uint64_t h = fold(fold(kFnv1aOffsetBasis, t.weight), t.input);
  return t.grad_output ? fold(h, *t.grad_output) : h;
}

void bind_layer_kind(LayerTensors& t, std::unique_ptr<LayerKind> kind, const std::string& where) {
  try {
    kind->bind(t.weight.shape, t.input.shape, t.grad_output ? &t.grad_output->shape : nullptr);
  } catch (const Error& e) {
    std::string files = t.weight_file + ", " + t.input_file;
    if (t.grad_output) files += ", " + t.grad_output_file;
    throw Error(where + " (" + files + "): " + e.what());
  }
  t.kind = std::move(kind);
}

}  // namespace mls
