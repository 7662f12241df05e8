#include "ref/golden/kernels/tap_variants.h"

#include <algorithm>
#include <cstring>

namespace mls::golden_detail {

const TapVariant* TapVariants::find(const uint16_t* key, const FullPlane& full) {
  const size_t bytes = size_t(full.per_group) * sizeof(uint16_t);
  if (last_ < v_.size() && std::memcmp(v_[last_]->key.data(), key, bytes) == 0) return v_[last_].get();
  for (size_t i = 0; i < v_.size(); ++i)
    if (std::memcmp(v_[i]->key.data(), key, bytes) == 0) return v_[last_ = i].get();
  int64_t real = 0;
  for (int64_t c = 0; c < full.per_group; ++c) real += __builtin_popcount(key[c]);
  const int64_t groups = full.per_group > 0 ? int64_t(full.pair_off.size()) / full.per_group : 0;
  if (used_ + full.blocks * groups * (real + full.per_group) * kLanes * 2 > budget_) return nullptr;
  v_.push_back(build(key, full));
  used_ += int64_t(v_.back()->xt.size() * sizeof(int16_t));
  return v_[last_ = v_.size() - 1].get();
}

const TapVariant* TapVariants::of_row(const int32_t* off, int64_t k, const FullPlane& full, uint16_t* key,
                                      int32_t* compact_off) {
  int64_t real = 0;
  for (int64_t c = 0; c < full.per_group; ++c) {
    unsigned bits = 0;
    for (int kk = 0; kk < 16; ++kk) bits |= unsigned(off[c * 16 + kk] >= 0) << kk;
    key[c] = uint16_t(bits);
    real += __builtin_popcount(bits);
  }
  if (2 * real > k) return nullptr;
  const TapVariant* v = find(key, full);
  for (int64_t c = 0; v && c < full.per_group; ++c) {
    int32_t* to = compact_off + c * 16;
    int i = 0;
    for (int kk = 0; kk < 16; ++kk)
      if (off[c * 16 + kk] >= 0) to[i++] = off[c * 16 + kk];
    std::fill(to + i, to + 16, -1);
  }
  return v;
}

std::unique_ptr<TapVariant> TapVariants::build(const uint16_t* key, const FullPlane& full) const {
  auto v = std::make_unique<TapVariant>();
  const int64_t chunks = int64_t(full.pair_off.size()), per_group = full.per_group;
  v->key.assign(key, key + per_group);
  for (int64_t j = 0; j < chunks; ++j) {
    v->pair_off.push_back(v->pairs);
    v->len.push_back(__builtin_popcount(key[j % per_group]));
    v->pairs += (v->len.back() + 1) / 2;
  }
  for (int64_t c = 0; c < per_group; ++c) v->slot.push_back(int32_t(2 * v->pair_off[size_t(c)]));
  v->group_slots = chunks > 0 ? 2 * v->pairs / (chunks / per_group) : 0;
  v->xt.assign(size_t(full.blocks * v->pairs * kLanes * 2), 0);
  for (int64_t b = 0; b < full.blocks; ++b)
    for (int64_t j = 0; j < chunks; ++j)
      for (int k = 0, i = 0; k < 16; ++k) {
        if (!(key[j % per_group] >> k & 1)) continue;
        const int16_t* from = &full.xt[size_t(((b * full.pairs + full.pair_off[size_t(j)] + k / 2) * kLanes) * 2 + k % 2)];
        int16_t* to = &v->xt[size_t(((b * v->pairs + v->pair_off[size_t(j)] + i / 2) * kLanes) * 2 + i % 2)];
        for (int lane = 0; lane < kLanes; ++lane) to[lane * 2] = from[lane * 2];
        ++i;
      }
  v->slots.resize(full.tiles.size());
  for (size_t i = 0; i < full.tiles.size(); ++i) {
    const SlotChunk& ch = full.tiles[i];
    if (ch.len > 0) v->slots[i] = {v->pair_off[size_t(ch.j)], (v->len[size_t(ch.j)] + 1) / 2, ch.g, int32_t(ch.j)};
  }
  return v;
}

}  // namespace mls::golden_detail
