#include "sim/io/layer_tensors.h"

#include <cstring>

#include "ref/core/error.h"
#include "ref/core/rng.h"

namespace mls {

namespace {

uint64_t fold(uint64_t h, const TensorF& t) {
  for (int64_t d : t.shape) h = splitmix64_mix(h ^ uint64_t(d));
  for (float f : t.data) {
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    h = splitmix64_mix(h ^ bits);
  }
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
