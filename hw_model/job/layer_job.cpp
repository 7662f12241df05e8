#include "hw_model/job/layer_job.h"

#include <algorithm>
#include <memory>
#include <string>

#include "ref/core/error.h"

namespace mls::hw {

namespace {

// An operand's element codes by signed magnitude: Y's rows are encoded each
// time they are generated, so the encoding is a table lookup over every
// sign * q of the format when there are few (an e2m4 element has 249),
// else encode_q itself.
class CodeBook {
 public:
  explicit CodeBook(const QuantTensor& t) : t_(t), max_q_(t.elem.max_q()) {
    if (max_q_ > kMaxTable) return;
    table_.assign(size_t(2 * max_q_ + 1), kUnset);
    for (int64_t q = 0; q <= max_q_; ++q) {
      if (!is_representable(t.elem, q)) continue;
      table_[size_t(max_q_ + q)] = pack(t.elem, encode_q(t.elem, q, false));
      if (q) table_[size_t(max_q_ - q)] = pack(t.elem, encode_q(t.elem, q, true));
    }
  }
  // The code of element `index` of the tensor, +0 for a zero tap (-1).
  uint32_t operator()(int32_t index) const {
    if (index < 0) return 0;
    const int32_t sq = t_.sq[size_t(index)];
    if (!table_.empty() && sq >= -max_q_ && sq <= max_q_ && table_[size_t(max_q_ + sq)] != kUnset)
      return table_[size_t(max_q_ + sq)];
    return encode_slow(sq);
  }
  // codes[i] = (*this)(index[i]) for i < n, with the tables' addresses held
  // in registers (a Y row is encoded each time it is generated); `codes` may
  // be `index` itself.
  void encode(const int32_t* index, uint32_t* codes, int64_t n) const {
    if (table_.empty()) {
      for (int64_t i = 0; i < n; ++i) codes[i] = (*this)(index[i]);
      return;
    }
    const int32_t* sq = t_.sq.data();
    const uint32_t* table = table_.data();  // indexed by max_q + sign * q
    const uint64_t span = table_.size();
    const int64_t max_q = max_q_;
    for (int64_t i = 0; i < n; ++i) {
      const int32_t at = index[i];
      if (at < 0) {
        codes[i] = 0;
        continue;
      }
      const int32_t q = sq[at];
      const uint64_t slot = uint64_t(q + max_q);  // one unsigned test for |q| <= max_q
      const uint32_t code = slot < span ? table[slot] : kUnset;
      codes[i] = code != kUnset ? code : encode_slow(q);
    }
  }
  // codes[slots[i]] = (*this)(base + offsets[i]) for i < n: a separable
  // row's real taps of one group, encoded straight from their offsets (no
  // index row written and read back); its zero taps' codes are left alone.
  void encode_taps(int64_t base, const int32_t* offsets, const int32_t* slots, int64_t n, uint32_t* codes) const {
    if (table_.empty()) {
      for (int64_t i = 0; i < n; ++i) codes[slots[i]] = (*this)(int32_t(base + offsets[i]));
      return;
    }
    const int32_t* sq = t_.sq.data() + base;
    const uint32_t* table = table_.data();  // indexed by max_q + sign * q
    const uint64_t span = table_.size();
    const int64_t max_q = max_q_;
    for (int64_t i = 0; i < n; ++i) {
      const int32_t q = sq[offsets[i]];
      const uint64_t at = uint64_t(q + max_q);  // one unsigned test for |q| <= max_q
      const uint32_t code = at < span ? table[at] : kUnset;
      codes[slots[i]] = code != kUnset ? code : encode_slow(q);
    }
  }
  // codes[i] = the code of element i for every element of the tensor, in
  // T (the format's codes fit it); false, and codes left partial, when an
  // element has no code in the table (no table: a wide format; or a value
  // the format cannot hold, which encode_slow reports when a row asks).
  template <class T>
  bool encode_all(std::vector<T>& codes) const {
    if (table_.empty()) return false;
    codes.resize(t_.sq.size());
    // Local pointers and bounds: a store of a byte may alias anything.
    const uint32_t* table = table_.data();
    const uint64_t span = table_.size();
    const int32_t* sq = t_.sq.data();
    const int64_t max_q = max_q_;
    T* out = codes.data();
    const size_t n = codes.size();
    for (size_t i = 0; i < n; ++i) {
      const uint64_t at = uint64_t(sq[i] + max_q);
      const uint32_t code = at < span ? table[at] : kUnset;
      if (code == kUnset) return false;
      out[i] = T(code);
    }
    return true;
  }

 private:
  uint32_t encode_slow(int32_t sq) const {
    return pack(t_.elem, encode_q(t_.elem, sq < 0 ? -int64_t(sq) : sq, sq < 0));  // throws if unrepresentable
  }

  static constexpr int64_t kMaxTable = 1 << 16;
  static constexpr uint32_t kUnset = ~uint32_t{0};
  const QuantTensor& t_;
  int64_t max_q_;
  std::vector<uint32_t> table_;
};

// A separable row's real taps: its tap offsets, then the offsets and slots
// of its real taps (every group has the same zero taps). Returns their
// count and the row's base and group step.
int64_t real_taps(const SeparableRows& parts, int64_t k, int64_t p, int32_t* offsets, RowBase& rb) {
  int32_t *real = offsets + k, *slots = real + k;
  rb = parts.offsets(p, offsets);
  int64_t n = 0;
  for (int64_t i = 0; i < k; ++i)
    if (offsets[i] >= 0) real[n] = offsets[i], slots[n++] = int32_t(i);
  return n;
}

// A separable row (`parts`): a row with zero taps is cleared once first
// (their +0), then each group's real taps written by `step(at, real,
// slots, n, codes)` from Y's elements at + real[i] (at = base + g * step),
// into codes[slots[i]], or in order when every tap is real (n = k).
template <class Step>
YRows::Fill separable_fill(const LoweredPass& lp, const QuantTensor& y, SeparableRows parts, Step step) {
  auto groups = std::make_shared<std::vector<int32_t>>(size_t(lp.g));
  auto taps = std::make_shared<std::vector<int32_t>>(size_t(3 * lp.k));
  return [&lp, &y, parts, groups, taps, step](int64_t p, uint32_t* codes, GroupScale* scales) {
    int32_t *real = taps->data() + lp.k, *slots = real + lp.k;
    RowBase rb;
    const int64_t n = real_taps(parts, lp.k, p, taps->data(), rb), k = lp.k;
    if (n < k) std::fill_n(codes, lp.g * k, 0u);
    parts.groups(p, groups->data());
    for (int64_t g = 0; g < lp.g; ++g) {
      step(rb.base + g * rb.step, real, slots, n, codes + g * k);
      scales[g] = y.sg[size_t((*groups)[size_t(g)])];
    }
  };
}

// The separable rows' fill from Y's codes encoded once per pass (`all`,
// one T per element of Y; an element of a 3 x 3 forward conv's Y is in up
// to 9 rows), in bytes or 16-bit words by the format's width: each group's
// real taps copied. Empty when they do not fit or Y's codes are not all in
// the table.
template <class T>
YRows::Fill from_encoded(const LoweredPass& lp, const QuantTensor& y, const SeparableRows& parts, const CodeBook& book) {
  auto all = std::make_shared<std::vector<T>>();
  if (!book.encode_all(*all)) return {};
  const int64_t k = lp.k;
  return separable_fill(lp, y, parts, [all, k](int64_t at, const int32_t* real, const int32_t* slots, int64_t n,
                                               uint32_t* codes) {
    const T* group = all->data() + at;
    if (n == k)
#pragma GCC unroll 4
      for (int64_t i = 0; i < k; ++i) codes[i] = group[real[i]];
    else
      for (int64_t i = 0; i < n; ++i) codes[slots[i]] = group[real[i]];
  });
}

// Y's separable rows (lp.y_parts) with each row's tap offsets and groups
// looked up once per pass into a table, when it takes at most kTableBytes:
// the rows' fill and the memory plan (make_memory_plan) both walk every
// row, and the lowering's per-row work is most of a row's cost. Else, or
// for rows that do not separate, lp.y_parts itself.
SeparableRows tabled_rows(const LoweredPass& lp) {
  constexpr int64_t kTableBytes = int64_t{16} << 20;
  if (!lp.y_parts || lp.p * (lp.k + lp.g + 4) * int64_t(sizeof(int32_t)) > kTableBytes) return lp.y_parts;
  struct Table {
    std::vector<RowBase> base;
    std::vector<int32_t> offsets, groups;  // [p][k], [p][g]
  };
  auto t = std::make_shared<Table>();
  const int64_t k = lp.k, g = lp.g;
  t->base.resize(size_t(lp.p));
  t->offsets.resize(size_t(lp.p * k));
  t->groups.resize(size_t(lp.p * g));
  for (int64_t p = 0; p < lp.p; ++p) {
    t->base[size_t(p)] = lp.y_parts.offsets(p, &t->offsets[size_t(p * k)]);
    lp.y_parts.groups(p, &t->groups[size_t(p * g)]);
  }
  SeparableRows rows;
  rows.offsets = [t, k](int64_t p, int32_t* offsets) {
    std::copy_n(&t->offsets[size_t(p * k)], k, offsets);
    return t->base[size_t(p)];
  };
  rows.groups = [t, g](int64_t p, int32_t* groups) { std::copy_n(&t->groups[size_t(p * g)], g, groups); };
  return rows;
}

// How the job's Y rows are made: a separable row (`parts`) from Y's codes
// encoded once (from_encoded) or, for a format too wide for that, encoded
// from its tap offsets group by group (the zero taps' +0 written once per
// row, only the real taps encoded: a quarter of a stride-2 zero-insertion
// row); any other generated as indices into the codes' own words and
// encoded in place. The scratch is the job's own: one thread fills its rows.
YRows::Fill y_fill(const LoweredPass& lp, const QuantTensor& y, const SeparableRows& parts) {
  auto y_code = std::make_shared<const CodeBook>(y);
  if (parts) {
    YRows::Fill fill = y.elem.bits() <= 8    ? from_encoded<uint8_t>(lp, y, parts, *y_code)
                       : y.elem.bits() <= 16 ? from_encoded<uint16_t>(lp, y, parts, *y_code)
                                             : YRows::Fill{};
    if (fill) return fill;
    return separable_fill(lp, y, parts, [y_code](int64_t at, const int32_t* real, const int32_t* slots, int64_t n,
                                                 uint32_t* codes) { y_code->encode_taps(at, real, slots, n, codes); });
  }
  auto groups = std::make_shared<std::vector<int32_t>>(size_t(lp.g));
  const int64_t gk = lp.g * lp.k;
  return [&lp, &y, groups, gk, y_code](int64_t p, uint32_t* codes, GroupScale* scales) {
    int32_t* index = reinterpret_cast<int32_t*>(codes);
    lp.y_row(p, groups->data(), index);
    y_code->encode(index, codes, gk);
    for (size_t g = 0; g < groups->size(); ++g) scales[g] = y.sg[size_t((*groups)[g])];
  };
}

}  // namespace

YRows::YRows(int64_t g, int64_t k, Fill fill, int64_t rows)
    : g_(g),
      k_(k),
      fill_(std::move(fill)),
      slot_p_(rows > kSlots && rows * g * k * int64_t(sizeof(uint32_t)) <= kWholeBytes ? size_t(rows) : size_t(kSlots),
              -1) {
  codes_.resize(slot_p_.size() * size_t(g * k));
  scales_.resize(slot_p_.size() * size_t(g));
}

YRows YRows::stored(int64_t g, int64_t k, std::vector<uint32_t> codes, std::vector<GroupScale> scales) {
  auto c = std::make_shared<const std::vector<uint32_t>>(std::move(codes));
  auto s = std::make_shared<const std::vector<GroupScale>>(std::move(scales));
  const int64_t rows = g > 0 && k > 0 ? int64_t(c->size()) / (g * k) : 0;
  return YRows(g, k, [c, s, g, k](int64_t p, uint32_t* codes_out, GroupScale* scales_out) {
    std::copy_n(&(*c)[size_t(p * g * k)], g * k, codes_out);
    std::copy_n(&(*s)[size_t(p * g)], g, scales_out);
  }, rows);
}

size_t YRows::slot(int64_t p) const {
  const size_t s = size_t(p) % slot_p_.size();
  if (slot_p_[s] == p) return s;
  fill_(p, codes_.data() + s * size_t(g_ * k_), scales_.data() + s * size_t(g_));
  slot_p_[s] = p;
  ++fills_;
  return s;
}

LayerJob make_layer_job(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y, const Mapping& mapping,
                        float* out) {
  LayerJob job;
  job.m = lp.m, job.p = lp.p, job.g = lp.g, job.k = lp.k;
  job.mapping = mapping;
  job.plan = mapping.chunk_plan(lp.k, lp.g);
  job.x_elem = x.elem;
  job.y_elem = y.elem;
  job.x_scale = x.scale;
  job.y_scale = y.scale;
  // X's codes encoded row by row (the table's addresses in registers, no
  // call per element), then written column-contiguous.
  const CodeBook x_code(x);
  const int64_t gk_all = lp.g * lp.k;
  job.x_codes.resize(lp.x_index.size());
  std::vector<uint32_t> row(static_cast<size_t>(gk_all));
  for (int64_t m = 0; m < lp.m; ++m) {
    x_code.encode(&lp.x_index[size_t(m * gk_all)], row.data(), gk_all);
    uint32_t* column = job.x_codes.data() + m;
    for (int64_t gk = 0; gk < gk_all; ++gk) column[gk * lp.m] = row[size_t(gk)];
  }
  for (int32_t gi : lp.x_group) job.x_scales.push_back(x.sg[size_t(gi)]);
  job.y_parts = tabled_rows(lp);
  job.y = YRows(lp.g, lp.k, y_fill(lp, y, job.y_parts), lp.p);
  job.s_t_x = x.s_t;
  job.s_t_y = y.s_t;
  job.out_index = lp.out_index;
  job.out = out;
  return job;
}

void check_job_fits(const LayerJob& job, int rows, int cols) {
  if (job.mapping.rows() != rows || job.mapping.cols() != cols)
    throw Error("layer job mapped for a " + std::to_string(job.mapping.rows()) + " x " +
                std::to_string(job.mapping.cols()) + " array, not this " + std::to_string(rows) + " x " +
                std::to_string(cols) + " one");
}

}  // namespace mls::hw
