#include "sim/io/layer_tensors.h"

#include <cstring>

#include "ref/core/error.h"
#include "ref/core/rng.h"

namespace mls {

namespace {

// Four independent SplitMix64 chains over the data's 8-byte words (a single
// chain is one serial multiply chain per element, the longest part of reading
// a large trace), then folded together with the element count.
uint64_t fold(uint64_t h, const TensorF& t) {
  for (int64_t d : t.shape) h = splitmix64_mix(h ^ uint64_t(d));
  const auto* bytes = reinterpret_cast<const unsigned char*>(t.data.data());
  const size_t nbytes = t.data.size() * sizeof(float);
  uint64_t lane[4] = {h, h ^ 0x9E3779B97F4A7C15ULL, h ^ 0xD1B54A32D192ED03ULL, h ^ 0x8CB92BA72F3D8DD7ULL};
  size_t i = 0;
  for (; i + 32 <= nbytes; i += 32) {
    for (int j = 0; j < 4; ++j) {
      uint64_t word;
      std::memcpy(&word, bytes + i + 8 * j, sizeof word);
      lane[j] = splitmix64_mix(lane[j] ^ word);
    }
  }
  for (; i < nbytes; i += sizeof(uint32_t)) {
    uint32_t bits;
    std::memcpy(&bits, bytes + i, sizeof bits);
    lane[0] = splitmix64_mix(lane[0] ^ bits);
  }
  h = splitmix64_mix(lane[0] ^ uint64_t(t.data.size()));
  for (int j = 1; j < 4; ++j) h = splitmix64_mix(h ^ lane[j]);
  return h;
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
