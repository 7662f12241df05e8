// Block tests of the RTL (tb_blocks.sv) against the golden model:
//   mul     every code pair of seven element-format pairs through the multiplier
//   acc     random chunks through two PEs with an 8-bit accumulator (saturate, wrap)
//   scaler  every group-scale code pair of six scaler instances over sets of
//           chunk sums with overflow-free extremes, subnormal results and ties
//   add     random fp32 additions (normals, subnormals, cancellation, overflow)
//   tree    random tiles with random empty slots through 5- and 16-slot trees
#include <deque>
#include <functional>
#include <random>
#include <vector>

#include "Vtb_blocks.h"
#include "Vtb_scalers.h"
#include "ref/format/format.h"
#include "ref/golden/golden_conv.h"
#include "tb_common.h"
#include "tb_modes.h"

namespace mls::rtl_tb {

namespace {

int64_t golden_element(const ElemFormat& f, uint32_t code) {
  const ElemCode c = unpack(f, code);
  const int64_t q = decode_q(f, c);
  return c.sign ? -q : q;
}

void clock(Vtb_blocks& top) {
  top.clk_i = 0;
  top.eval();
  top.clk_i = 1;
  top.eval();
}

void reset(Vtb_blocks& top) {
  top.rst_ni = 0;
  top.clk_i = 0;
  top.eval();
  top.rst_ni = 1;
  top.eval();
}

// One multiplier instance: its formats, product width and port access.
struct MulInstance {
  const char* name;
  ElemFormat x, y;
  int prod_bits;
  std::function<void(Vtb_blocks&, uint32_t, uint32_t)> drive;
  std::function<uint64_t(const Vtb_blocks&)> product;
};

std::vector<MulInstance> mul_instances() {
  return {
      {"e2m1 x e2m1", {2, 1}, {2, 1}, 9, [](Vtb_blocks& t, uint32_t a, uint32_t b) { t.mul0_x_i = a, t.mul0_y_i = b; },
       [](const Vtb_blocks& t) { return uint64_t(t.mul0_p_o); }},
      {"e2m4 x e2m4", {2, 4}, {2, 4}, 15, [](Vtb_blocks& t, uint32_t a, uint32_t b) { t.mul1_x_i = a, t.mul1_y_i = b; },
       [](const Vtb_blocks& t) { return uint64_t(t.mul1_p_o); }},
      {"e0m3 x e0m3", {0, 3}, {0, 3}, 9, [](Vtb_blocks& t, uint32_t a, uint32_t b) { t.mul2_x_i = a, t.mul2_y_i = b; },
       [](const Vtb_blocks& t) { return uint64_t(t.mul2_p_o); }},
      {"e3m2 x e3m2", {3, 2}, {3, 2}, 19, [](Vtb_blocks& t, uint32_t a, uint32_t b) { t.mul3_x_i = a, t.mul3_y_i = b; },
       [](const Vtb_blocks& t) { return uint64_t(t.mul3_p_o); }},
      {"e4m3 x e4m3", {4, 3}, {4, 3}, 37, [](Vtb_blocks& t, uint32_t a, uint32_t b) { t.mul4_x_i = a, t.mul4_y_i = b; },
       [](const Vtb_blocks& t) { return uint64_t(t.mul4_p_o); }},
      {"e2m4 x e3m2", {2, 4}, {3, 2}, 17, [](Vtb_blocks& t, uint32_t a, uint32_t b) { t.mul5_x_i = a, t.mul5_y_i = b; },
       [](const Vtb_blocks& t) { return uint64_t(t.mul5_p_o); }},
      {"e1m0 x e2m1", {1, 0}, {2, 1}, 6, [](Vtb_blocks& t, uint32_t a, uint32_t b) { t.mul6_x_i = a, t.mul6_y_i = b; },
       [](const Vtb_blocks& t) { return uint64_t(t.mul6_p_o); }},
  };
}

int test_mul(Vtb_blocks& top) {
  Checker check("mul");
  for (const MulInstance& m : mul_instances()) {
    const uint32_t nx = 1u << m.x.bits(), ny = 1u << m.y.bits();
    for (uint32_t a = 0; a < nx; ++a)
      for (uint32_t b = 0; b < ny; ++b) {
        m.drive(top, a, b);
        top.eval();
        const int64_t want = golden_element(m.x, a) * golden_element(m.y, b);
        check.expect_eq(sign_extend(m.product(top), m.prod_bits), want,
                        [&] { return std::string(m.name) + " codes " + std::to_string(a) + ", " + std::to_string(b); });
      }
  }
  return check.finish();
}

int test_acc(Vtb_blocks& top) {
  Checker check("acc");
  const ElemFormat f{2, 4};
  std::mt19937_64 rng(14);
  reset(top);
  int64_t sat = 0, wrap = 0;
  for (int chunk = 0; chunk < 20000; ++chunk) {
    const int len = 1 + int(rng() % 24);
    for (int i = 0; i < len; ++i) {
      const bool idle = rng() % 8 == 0;  // a cycle without a product holds the sums
      const uint32_t x = uint32_t(rng() % 128), y = uint32_t(rng() % 128);
      top.pe_valid_i = !idle;
      top.pe_first_i = i == 0;
      top.pe_x_i = x;
      top.pe_y_i = y;
      uint64_t sat_ovf = 0, wrap_ovf = 0;
      if (!idle) {
        const int64_t prod = golden_element(f, x) * golden_element(f, y);
        sat = accumulate(i == 0 ? 0 : sat, prod, 8, Overflow::saturate, sat_ovf);
        wrap = accumulate(i == 0 ? 0 : wrap, prod, 8, Overflow::wrap, wrap_ovf);
      }
      clock(top);
      const std::string where = "chunk " + std::to_string(chunk) + " step " + std::to_string(i);
      check.expect_eq(sign_extend(top.pe0_acc_o, 8), sat, "saturate " + where);
      check.expect_eq(sign_extend(top.pe1_acc_o, 8), wrap, "wrap " + where);
      check.expect_eq(uint64_t(top.pe0_ovf_o), sat_ovf, "saturate overflow " + where);
      check.expect_eq(uint64_t(top.pe1_ovf_o), wrap_ovf, "wrap overflow " + where);
      if (idle && i == 0) --i;  // the chunk's first product is still to come
    }
  }
  return check.finish();
}

// Chunk sums of an acc_bits accumulator that exercise the scaler: zero, small
// odd values (ties once shifted into the subnormal range), the extremes, values
// with more than 24 significant bits (normal-range rounding and its ties) and
// random ones. Always `count` values.
std::vector<int64_t> scaler_sums(int acc_bits, size_t count, std::mt19937_64& rng) {
  const int64_t hi = (int64_t{1} << (acc_bits - 1)) - 1, lo = -hi - 1;
  std::vector<int64_t> s = {0, 1, -1, 3, -5, 7, 9, -11, 13, hi, lo, lo + 1, hi / 2 + 1, -(hi / 3)};
  if (acc_bits > 26) {
    const std::vector<int64_t> wide = {(1 << 24) + 1, (1 << 25) + 1, -((1 << 25) + 3), (1 << 25) - 1,
                                       (3 << 23) + 1, (int64_t{1} << 26) + 2};
    s.insert(s.end(), wide.begin(), wide.end());
  }
  while (s.size() < count) s.push_back(sign_extend(rng(), acc_bits));
  s.resize(count);
  return s;
}

GroupScale scale_of(const ScaleFormat& f, uint32_t code) {
  GroupScale g;
  g.exp = int16_t(-int(code >> f.m));
  g.man = uint8_t(code & ((1u << f.m) - 1));
  return g;
}

// One scaler instance: its accumulator, formats and port access.
struct ScalerInstance {
  const char* name;
  int acc_bits;
  ScaleFormat x, y;
  std::function<void(Vtb_scalers&, int64_t, uint32_t, uint32_t)> drive;
  std::function<uint32_t(const Vtb_scalers&)> out;
  std::vector<int64_t> sums;
};

std::vector<ScalerInstance> scaler_instances() {
  const auto mask = [](int64_t v, int bits) { return uint64_t(v) & ((uint64_t{1} << bits) - 1); };
  return {
      {"acc16 e8m1 x e8m1", 16, {8, 1}, {8, 1},
       [=](Vtb_scalers& t, int64_t s, uint32_t a, uint32_t b) { t.sc0_sum_i = mask(s, 16), t.sc0_sx_i = a, t.sc0_sy_i = b; },
       [](const Vtb_scalers& t) { return uint32_t(t.sc0_o); }, {}},
      {"acc16 e8m0 x e8m0", 16, {8, 0}, {8, 0},
       [=](Vtb_scalers& t, int64_t s, uint32_t a, uint32_t b) { t.sc1_sum_i = mask(s, 16), t.sc1_sx_i = a, t.sc1_sy_i = b; },
       [](const Vtb_scalers& t) { return uint32_t(t.sc1_o); }, {}},
      {"acc32 e8m1 x e5m0", 32, {8, 1}, {5, 0},
       [=](Vtb_scalers& t, int64_t s, uint32_t a, uint32_t b) { t.sc2_sum_i = mask(s, 32), t.sc2_sx_i = a, t.sc2_sy_i = b; },
       [](const Vtb_scalers& t) { return uint32_t(t.sc2_o); }, {}},
      {"acc62 e8m1 x e8m1", 62, {8, 1}, {8, 1},
       [=](Vtb_scalers& t, int64_t s, uint32_t a, uint32_t b) { t.sc3_sum_i = mask(s, 62), t.sc3_sx_i = a, t.sc3_sy_i = b; },
       [](const Vtb_scalers& t) { return uint32_t(t.sc3_o); }, {}},
      {"acc12 e2m1 x e0m1", 12, {2, 1}, {0, 1},
       [=](Vtb_scalers& t, int64_t s, uint32_t a, uint32_t b) { t.sc4_sum_i = mask(s, 12), t.sc4_sx_i = a, t.sc4_sy_i = b; },
       [](const Vtb_scalers& t) { return uint32_t(t.sc4_o); }, {}},
      {"acc20 e5m2 x e3m3", 20, {5, 2}, {3, 3},
       [=](Vtb_scalers& t, int64_t s, uint32_t a, uint32_t b) { t.sc5_sum_i = mask(s, 20), t.sc5_sx_i = a, t.sc5_sy_i = b; },
       [](const Vtb_scalers& t) { return uint32_t(t.sc5_o); }, {}},
  };
}

std::string hex32(uint32_t v) {
  char buf[12];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

int test_scaler(Vtb_scalers& top) {
  Checker check("scaler");
  std::mt19937_64 rng(14);
  constexpr size_t kSums = 24;
  std::vector<ScalerInstance> inst = scaler_instances();
  for (ScalerInstance& s : inst) s.sums = scaler_sums(s.acc_bits, kSums, rng);
  // All instances share each eval; an instance whose code space is smaller
  // than 512 x 512 takes only the pairs inside its own.
  for (uint32_t a = 0; a < 512; ++a)
    for (uint32_t b = 0; b < 512; ++b)
      for (size_t k = 0; k < kSums; ++k) {
        std::vector<const ScalerInstance*> active;
        for (const ScalerInstance& s : inst)
          if (a < (1u << (s.x.e + s.x.m)) && b < (1u << (s.y.e + s.y.m))) {
            s.drive(top, s.sums[k], a, b);
            active.push_back(&s);
          }
        if (active.empty()) continue;
        top.eval();
        for (const ScalerInstance* s : active) {
          const float want = scale_chunk(s->sums[k], scale_of(s->x, a), scale_of(s->y, b), s->x, s->y);
          check.expect_eq(Hex32{s->out(top)}, Hex32{bits_of(want)}, [&] {
            return std::string(s->name) + " sum " + std::to_string(s->sums[k]) + " codes " + std::to_string(a) +
                   ", " + std::to_string(b);
          });
        }
      }
  return check.finish();
}

// A random finite fp32 whose exponent field lies in [lo, hi].
uint32_t random_float(std::mt19937_64& rng, uint32_t lo, uint32_t hi) {
  const uint32_t e = lo + uint32_t(rng() % (hi - lo + 1));
  return uint32_t(rng() & 0x807fffffu) | (e << 23);
}

int test_add(Vtb_blocks& top) {
  Checker check("add");
  std::mt19937_64 rng(14);
  for (int i = 0; i < 3000000; ++i) {
    uint32_t a, b;
    switch (i % 5) {
      case 0: a = random_float(rng, 0, 254), b = random_float(rng, 0, 254); break;  // anything finite
      case 1: {  // near cancellation: close exponents, opposite signs
        a = random_float(rng, 1, 253);
        const uint32_t ea = (a >> 23) & 0xff;
        b = random_float(rng, ea - (ea > 1), ea + 1) ^ (a & 0x80000000u) ^ 0x80000000u;
        if (rng() % 4 == 0) b = (b & 0xff800000u) | (a & 0x007fffffu) ^ uint32_t(rng() % 8);
        break;
      }
      case 2: a = random_float(rng, 0, 2), b = random_float(rng, 0, 3); break;       // subnormals
      case 3: a = random_float(rng, 250, 254), b = random_float(rng, 240, 254); break;  // overflow
      default: {  // exponent gaps around the guard bits, zeros
        a = random_float(rng, 30, 220);
        const uint32_t gap = uint32_t(rng() % 30);
        b = random_float(rng, ((a >> 23) & 0xff) - gap, ((a >> 23) & 0xff) - gap);
        if (rng() % 16 == 0) b &= 0x80000000u;
        if (rng() % 64 == 0) a &= 0x80000000u;
      }
    }
    top.add_a_i = a;
    top.add_b_i = b;
    top.eval();
    volatile float fa = float_of(a), fb = float_of(b);
    const float want = fa + fb;
    check.expect_eq(Hex32{top.add_o}, Hex32{bits_of(want)}, [&] { return hex32(a) + " + " + hex32(b); });
  }
  return check.finish();
}

int test_tree(Vtb_blocks& top) {
  Checker check("tree");
  std::mt19937_64 rng(14);
  reset(top);
  // The trees differ in depth (3 and 4 levels): one queue of expected roots each.
  std::deque<uint32_t> expected5, expected16;
  const auto check_root = [&](bool valid, uint32_t got, std::deque<uint32_t>& expected, const std::string& which) {
    if (!valid) return;
    if (expected.empty()) return check.fail(which + ": a result without a tile");
    check.expect_eq(hex32(got), hex32(expected.front()), which);
    expected.pop_front();
  };
  const int tiles = 200000;
  for (int t = 0; t < tiles + 8; ++t) {
    const bool feed = t < tiles;
    float v[16];
    bool ok[16];
    uint32_t mask = uint32_t(rng() & 0xffff);
    if (t % 7 == 0) mask = 0xffff;
    if (t % 97 == 0) mask = 0;
    for (int i = 0; i < 16; ++i) {
      v[i] = float_of(random_float(rng, 100, 110));
      ok[i] = (mask >> i) & 1u;
      top.tree_slot_i[i] = bits_of(v[i]);
    }
    top.tree_slot_valid_i = mask;
    top.tree_valid_i = feed;
    if (feed) {
      uint64_t adds = 0;
      expected5.push_back(bits_of(tree_reduce(v, ok, 5, adds)));
      expected16.push_back(bits_of(tree_reduce(v, ok, 16, adds)));
    }
    clock(top);
    check_root(top.tree5_valid_o, top.tree5_o, expected5, "5 slots, cycle " + std::to_string(t));
    check_root(top.tree16_valid_o, top.tree16_o, expected16, "16 slots, cycle " + std::to_string(t));
  }
  if (!expected5.empty() || !expected16.empty()) check.fail("tiles never left a tree");
  return check.finish();
}

}  // namespace

int run_block_test(const std::string& mode) {
  Vtb_blocks top;
  top.rst_ni = 1;
  if (mode == "mul") return test_mul(top);
  if (mode == "acc") return test_acc(top);
  if (mode == "scaler") {
    Vtb_scalers scalers;  // a model of its own: each evaluation computes the scalers alone
    return test_scaler(scalers);
  }
  if (mode == "add") return test_add(top);
  if (mode == "tree") return test_tree(top);
  return -1;
}

}  // namespace mls::rtl_tb
