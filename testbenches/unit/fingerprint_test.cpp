// tensors_fingerprint (sim/io/layer_tensors.cpp): a trace's tensors read again
// must hash differently when any bit of any element, or any shape, changed.
// The hash runs four chains over 8-byte words and a 4-byte tail, so every
// position of a word, every lane and the tail are flipped in turn.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <stdexcept>

#include "ref/core/rng.h"
#include "sim/io/layer_tensors.h"

namespace mls {
namespace {

TensorF ramp(Shape shape) {
  TensorF t(std::move(shape));
  for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = 0.25f * float(i) - 3.0f;
  return t;
}

LayerTensors layer(int64_t n_input) {
  LayerTensors t;
  t.weight = ramp({2, 3});
  t.input = ramp({n_input});
  t.grad_output = ramp({5});
  return t;
}

void flip_bit(float& f, int bit) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  u ^= 1u << bit;
  std::memcpy(&f, &u, sizeof u);
}

// 19 input elements: four full 32-byte rounds of the lanes' words would need
// 32; 19 = two rounds (16 elements) and a tail of 3.
TEST(Fingerprint, EveryBitOfEveryElementChangesIt) {
  const uint64_t base = tensors_fingerprint(layer(19));
  std::set<uint64_t> seen{base};
  for (int64_t i = 0; i < 19; ++i) {
    for (int bit = 0; bit < 32; ++bit) {
      LayerTensors t = layer(19);
      flip_bit(t.input.data[size_t(i)], bit);
      const uint64_t h = tensors_fingerprint(t);
      EXPECT_NE(h, base) << "element " << i << " bit " << bit;
      seen.insert(h);
    }
  }
  EXPECT_EQ(seen.size(), 1u + 19u * 32u);  // no two flips collide either
}

TEST(Fingerprint, SwappedElementsAndOtherTensorsChangeIt) {
  const uint64_t base = tensors_fingerprint(layer(19));
  LayerTensors swapped = layer(19);
  std::swap(swapped.input.data[1], swapped.input.data[3]);  // two lanes of one round
  EXPECT_NE(tensors_fingerprint(swapped), base);
  LayerTensors rounds = layer(19);
  std::swap(rounds.input.data[0], rounds.input.data[8]);  // the same lane, two rounds
  EXPECT_NE(tensors_fingerprint(rounds), base);
  LayerTensors weight = layer(19);
  flip_bit(weight.weight.data[5], 0);
  EXPECT_NE(tensors_fingerprint(weight), base);
  LayerTensors grad = layer(19);
  grad.grad_output.reset();
  EXPECT_NE(tensors_fingerprint(grad), base);
}

TEST(Fingerprint, ShapeAndLengthCount) {
  LayerTensors flat = layer(19), reshaped = layer(19);
  reshaped.weight.shape = {3, 2};  // same six values
  EXPECT_NE(tensors_fingerprint(flat), tensors_fingerprint(reshaped));
  for (int64_t n = 1; n < 40; ++n)  // every tail length, and a zero tail element appended
    EXPECT_NE(tensors_fingerprint(layer(n)), tensors_fingerprint(layer(n + 1))) << n;
  EXPECT_EQ(tensors_fingerprint(layer(19)), tensors_fingerprint(layer(19)));
}

// A tensor read in blocks (read_npy's, each a multiple of 8 values but the
// last) hashes as when it is added whole; a block after one that ended
// inside a round of 8 is refused, as its words would fall elsewhere.
TEST(Fingerprint, BlocksHashAsTheWholeTensor) {
  const TensorF t = ramp({3, 37});  // 111 values: 13 rounds and a tail of 7
  TensorFingerprint whole(kFnv1aOffsetBasis, t.shape);
  whole.add(t.data.data(), t.data.size());
  for (size_t block : {8, 16, 48, 104}) {
    TensorFingerprint parts(kFnv1aOffsetBasis, t.shape);
    for (size_t first = 0; first < t.data.size(); first += block)
      parts.add(t.data.data() + first, std::min(block, t.data.size() - first));
    EXPECT_EQ(parts.value(), whole.value()) << block;
  }
  TensorFingerprint bad(kFnv1aOffsetBasis, t.shape);
  bad.add(t.data.data(), 5);
  EXPECT_THROW(bad.add(t.data.data() + 5, 8), std::logic_error);
  // The layer's hash chains its tensors' hashes in order.
  LayerTensors l = layer(19);
  uint64_t h = kFnv1aOffsetBasis;
  for (const TensorF* x : {&l.weight, &l.input, &*l.grad_output}) {
    TensorFingerprint f(h, x->shape);
    f.add(x->data.data(), x->data.size());
    h = f.value();
  }
  EXPECT_EQ(h, tensors_fingerprint(l));
}

}  // namespace
}  // namespace mls
