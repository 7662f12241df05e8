// Whole-array regressions: every pass of a conv layer through the SystemC array,
// checked bit for bit against the golden model, with cycles held against the
// docs/reference.md#the-modelled-array formula and every event count against its closed form.
#include <cmath>
#include <cstring>
#include <random>
#include <sstream>

#include "hw_model/array/simulate_pass.h"
#include "hw_model/array/mac_array.h"
#include "ref/workload/conv2d.h"
#include "ref/golden/golden_conv.h"
#include "ref/workload/lowering.h"
#include "ref/mapping/mapping.h"
#include "ref/quant/quantizer.h"
#include "testbenches/systemc/tb_main.h"

namespace mls::hw {
namespace {

struct Case {
  std::string elem;  // one format, or W, A and E's joined by 'x': e2m4xe3m2xe2m1
  int rows, cols, chunk, stride;
  std::string data;  // random | wide | sparse | saturating
  std::string scale = "e8m1";  // likewise
  std::string group = "nc";    // every operand's grouping; kB quantizes each operand along each pass's block axis
};

// "a" -> {a, a, a}; "axbxc" -> {a, b, c}
std::vector<std::string> per_operand(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, 'x');) parts.push_back(part);
  return parts.size() == 3 ? parts : std::vector<std::string>(3, text);
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  std::ostringstream s;
  s << c.elem << "_" << c.rows << "x" << c.cols << "_chunk" << c.chunk << "_stride" << c.stride << "_" << c.data;
  if (c.scale != "e8m1") s << "_" << c.scale;
  if (c.group != "nc") s << "_" << c.group;
  return s.str();
}

// Tensor contents by kind: `wide` spreads channels over 2^(3c) so that fp32
// sums round, `sparse` is ReLU-like, `saturating` drives accumulators over.
TensorF make_tensor(const Shape& shape, const std::string& kind, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  TensorF t(shape);
  const int64_t per_channel = shape[2] * shape[3];
  for (int64_t i = 0; i < t.size(); ++i) {
    float v = normal(gen);
    const int64_t channel = (i / per_channel) % shape[1];
    if (kind == "wide") v *= std::ldexp(1.0f, int(3 * channel) - 8);
    if (kind == "sparse" && v < 0.3f) v = 0.0f;
    if (kind == "saturating") v = 1.0f;
    t.data[size_t(i)] = v;
  }
  return t;
}

// docs/reference.md#the-modelled-array, written from its text: sum over (m-tile, p, chunk-tile) of the
// longest chunk in the tile, plus the pipeline depth. It reads only the
// mapping's sizes: the formula is the test's own, not Mapping::cycles.
uint64_t spec_cycles(const LoweredPass& lp, const Mapping& map, int pipeline_depth) {
  const int64_t per_group = (lp.k + map.chunk() - 1) / map.chunk();
  std::vector<int64_t> lengths;
  for (int64_t g = 0; g < lp.g; ++g)
    for (int64_t c = 0; c < per_group; ++c) lengths.push_back(std::min<int64_t>(map.chunk(), lp.k - c * map.chunk()));
  int64_t per_output = 0;
  for (size_t first = 0; first < lengths.size(); first += size_t(map.rows())) {
    const size_t last = std::min(lengths.size(), first + size_t(map.rows()));
    per_output += *std::max_element(lengths.begin() + long(first), lengths.begin() + long(last));
  }
  const int64_t m_tiles = (lp.m + map.cols() - 1) / map.cols();
  return uint64_t(m_tiles * lp.p * per_output) + uint64_t(pipeline_depth);
}

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

class ArrayRegression : public ::testing::TestWithParam<Case> {};

TEST_P(ArrayRegression, BitExactWithSpecCyclesAndCounts) {
  const Case& c = GetParam();
  MlsConfig cfg;
  const std::vector<std::string> elems = per_operand(c.elem), scales = per_operand(c.scale);
  const Operand operands[] = {Operand::weight, Operand::input, Operand::grad_output};
  for (int i = 0; i < 3; ++i) {
    cfg.quant[operands[i]].elem = parse_elem_format(elems[size_t(i)]);
    cfg.quant[operands[i]].scale = parse_scale_format(scales[size_t(i)]);
    cfg.quant[operands[i]].rounding = Rounding::stochastic;
    cfg.quant[operands[i]].group = parse_grouping(c.group);
  }
  cfg.array.rows = c.rows;
  cfg.array.cols = c.cols;
  cfg.array.chunk = c.chunk;
  if (c.data == "saturating") {
    // Narrow enough that even e2m1 (largest product 144, 9 per chunk) overflows.
    cfg.array.acc_bits = 10;
    cfg.array.acc_overflow = c.stride == 1 ? Overflow::saturate : Overflow::wrap;
  }
  cfg.validate();
  // Ci = 5 and Co = 7 leave partial row and column tiles on every array.
  const ConvParams prm{c.stride, c.stride, 1, 1, 1, 1};
  const TensorF w = make_tensor({7, 5, 3, 3}, c.data, 1), a = make_tensor({2, 5, 7, 7}, c.data, 2);
  const ConvGeometry geo = conv_geometry(w.shape, a.shape, prm);
  const TensorF e = make_tensor({2, 7, geo.ho, geo.wo}, c.data == "saturating" ? "random" : c.data, 3);
  Conv2d conv(prm);
  conv.bind(w.shape, a.shape, &e.shape);
  // Each pass's X and Y quantized along its block axes (a non-block grouping ignores them).
  const auto quantized = [&](Pass pass, bool x_side) {
    const bool e_operand = x_side ? pass == Pass::bwd_weight : pass == Pass::bwd_data;
    if (e_operand) return quantize(e, "l.grad_output", cfg.quant.grad_output, conv.block_axis(pass, x_side));
    return x_side ? quantize(w, "l.weight", cfg.quant.weight, conv.block_axis(pass, x_side))
                  : quantize(a, "l.input", cfg.quant.input, conv.block_axis(pass, x_side));
  };
  ArraySim sim(cfg);
  // Every dataflow through the same array: the job carries the mapping.
  for (Dataflow dataflow : {Dataflow::baseline, Dataflow::weight_stationary, Dataflow::output_stationary})
  for (Pass pass : {Pass::fwd, Pass::bwd_data, Pass::bwd_weight}) {
    const Mapping map(dataflow, c.rows, c.cols, c.chunk);
    const QuantTensor x = quantized(pass, true), y = quantized(pass, false);
    const LoweredPass lp = conv.lower(pass, x.layout, y.layout);
    TensorF out(lp.out_shape);
    const LayerJob job = make_layer_job(lp, x, y, map, out.data.data());
    const Stats s = sim.run(job);
    // The width the accumulator needed: over acc_bits exactly when it overflowed.
    if (s.acc_overflow > 0)
      EXPECT_GT(sim.acc_bits_needed(), cfg.array.acc_bits);
    else
      EXPECT_LE(sim.acc_bits_needed(), cfg.array.acc_bits);
    const GoldenResult golden = golden_pass(lp, x, y, cfg.array, map);
    SCOPED_TRACE(to_string(pass) + " " + to_string(dataflow));
    int mismatches = 0;
    for (int64_t i = 0; i < out.size(); ++i)
      if (bits_of(out.data[size_t(i)]) != bits_of(golden.out.data[size_t(i)]) && ++mismatches <= 3)
        ADD_FAILURE() << "output " << i << ": array " << out.data[size_t(i)] << ", golden " << golden.out.data[size_t(i)];
    EXPECT_EQ(mismatches, 0);

    const uint64_t macs = uint64_t(lp.m * lp.p * lp.g * lp.k), outputs = uint64_t(lp.m * lp.p);
    const uint64_t per_group = uint64_t((lp.k + c.chunk - 1) / c.chunk), chunks = per_group * uint64_t(lp.g);
    const uint64_t tiles = (chunks + uint64_t(c.rows) - 1) / uint64_t(c.rows);
    EXPECT_EQ(s.cycles, spec_cycles(lp, map, cfg.array.pipeline_depth()));
    EXPECT_EQ(s.pipeline_depth, uint64_t(6 + cfg.array.effective_tree_stages()));
    EXPECT_EQ(s.stall_cycles, 0u);
    EXPECT_EQ(s.mul, macs) << "every product, padding zeros included";
    EXPECT_EQ(s.acc_add, macs);
    // PE-level reuse: weight-stationary PEs read their X chunk once for all p;
    // output-stationary rows keep their Y chunk across the m-tiles of one p
    // when one chunk tile covers the reduction.
    const uint64_t m_tiles = uint64_t((lp.m + c.cols - 1) / c.cols), y_stream = uint64_t(lp.p * lp.g * lp.k);
    EXPECT_EQ(s.read_x, dataflow == Dataflow::weight_stationary ? uint64_t(lp.m * lp.g * lp.k) : macs);
    EXPECT_EQ(s.read_y, dataflow == Dataflow::output_stationary && tiles == 1 ? y_stream : m_tiles * y_stream);
    EXPECT_EQ(s.scale, outputs * chunks);
    EXPECT_EQ(s.scale_mul, x.scale.m > 1 || y.scale.m > 1 ? s.scale : 0) << "the scaler's multiplier form";
    EXPECT_EQ(s.tree_add, outputs * (chunks - tiles)) << "one add fewer than chunks in each tile";
    EXPECT_EQ(s.out_acc, outputs * tiles);
    EXPECT_EQ(s.final_mul, outputs);
    EXPECT_EQ(s.write_out, outputs);
    EXPECT_EQ(s.acc_overflow, golden.acc_overflow);
    EXPECT_NEAR(s.utilization(c.rows, c.cols), double(macs) / (double(s.cycles) * c.rows * c.cols), 1e-12);
    if (pass == Pass::bwd_weight) {
      // Row filling: the test's own chunk length from the docs' rule, and the
      // cycles of the plain formula with it.
      const int64_t per_group_chunks = (lp.k + c.chunk - 1) / c.chunk;
      int64_t fill_chunk = c.chunk;
      if (lp.g * per_group_chunks < c.rows)
        fill_chunk = std::min<int64_t>(c.chunk, (lp.k + std::max<int64_t>(1, c.rows / lp.g) - 1) /
                                                    std::max<int64_t>(1, c.rows / lp.g));
      const Mapping filled = map.fill_rows();
      ASSERT_EQ(filled.chunk_for(lp.k, lp.g), fill_chunk);
      TensorF fill_out(lp.out_shape);
      const LayerJob fill_job = make_layer_job(lp, x, y, filled, fill_out.data.data());
      const Stats fs = sim.run(fill_job);
      const GoldenResult fill_golden = golden_pass(lp, x, y, cfg.array, filled);
      EXPECT_EQ(std::memcmp(fill_out.data.data(), fill_golden.out.data.data(), fill_out.data.size() * sizeof(float)), 0)
          << "fill-rows bit-exact";
      EXPECT_EQ(fs.acc_overflow, fill_golden.acc_overflow);
      EXPECT_EQ(fs.mul, macs);
      EXPECT_EQ(fs.cycles, spec_cycles(lp, Mapping(dataflow, c.rows, c.cols, int(fill_chunk)), cfg.array.pipeline_depth()));
      EXPECT_LE(fs.cycles, s.cycles);
    }
    uint64_t zero_products = 0;
    const mls::RowTables yt = mls::y_tables(lp);
    for (size_t i = 0; i < size_t(lp.m * lp.g * lp.k); ++i) {
      const int64_t gk = int64_t(i) % (lp.g * lp.k);
      const bool x_zero = lp.x_index[i] < 0 || x.sq[size_t(lp.x_index[i])] == 0;
      for (int64_t p = 0; p < lp.p; ++p) {
        const int32_t yi = yt.index[size_t(p * lp.g * lp.k + gk)];
        zero_products += x_zero || yi < 0 || y.sq[size_t(yi)] == 0;
      }
    }
    EXPECT_EQ(s.mul_zero, zero_products);
    if (c.data == "saturating" && pass == Pass::fwd) {
      EXPECT_GT(s.acc_overflow, 0u) << "the case must overflow";
    }
  }
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (const char* elem : {"e2m1", "e2m4", "e0m4", "e3m3"})
    for (auto [rows, cols] : {std::pair{4, 4}, std::pair{8, 16}, std::pair{16, 16}})
      for (int chunk : {4, 9, 16})
        for (int stride : {1, 2}) cases.push_back({elem, rows, cols, chunk, stride, "random"});
  for (const char* elem : {"e2m1", "e2m4", "e0m4", "e3m3"})
    for (const char* data : {"wide", "sparse", "saturating"})
      for (int stride : {1, 2}) cases.push_back({elem, 16, 16, 16, stride, data});
  // W, A and E in different element and scale formats: the multiplier decodes
  // X and Y with their own tables and the scaler shifts by each one's M_g.
  for (auto [rows, cols] : {std::pair{4, 4}, std::pair{16, 16}})
    for (int chunk : {4, 16})
      for (int stride : {1, 2})
        cases.push_back({"e2m4xe3m2xe2m1", rows, cols, chunk, stride, "random", "e8m1xe8m0xe6m1"});
  for (int stride : {1, 2}) cases.push_back({"e0m4xe2m4xe4m3", 16, 16, 16, stride, "wide", "e8m0xe8m1xe8m1"});
  // Wider scale mantissas (e4m3 as NVFP4 uses): the scaler's multiplier form, in every pass or (A only) all but bwd-data.
  cases.push_back({"e2m1xe2m4xe3m3", 8, 16, 9, 1, "wide", "e4m3xe8m0xe5m2"});
  cases.push_back({"e2m1xe2m4xe3m3", 8, 16, 9, 2, "wide", "e8m1xe4m3xe8m1"});
  // The mix of docs/formats.md (W e2m1, A e2m4, E e3m3), also with its
  // accumulators driven over (saturating at stride 1, wrapping at 2).
  for (int stride : {1, 2})
    for (const char* data : {"random", "saturating"}) cases.push_back({"e2m1xe2m4xe3m3", 8, 16, 9, stride, data});
  // Block groupings (docs/formats.md#block-groupings): Ci = 5, Co = 7 and N = 2
  // leave remainder blocks; chunks shorter and longer than B.
  for (const char* group : {"k2", "k4"})
    for (auto [rows, cols] : {std::pair{4, 4}, std::pair{16, 16}})
      for (int chunk : {3, 16})
        for (int stride : {1, 2}) cases.push_back({"e2m4", rows, cols, chunk, stride, "random", "e8m1", group});
  for (const char* data : {"wide", "saturating"}) cases.push_back({"e2m1xe2m4xe3m3", 8, 16, 9, 2, data, "e8m1", "k4"});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Regression, ArrayRegression, ::testing::ValuesIn(all_cases()), case_name);

// The mapping's own cycle formula (what a dataflow declares) against the
// test's formula above, over shapes with partial row, column and chunk tiles.
TEST(MappingCycles, EqualTheFormulaWrittenFromTheDocs) {
  for (int rows : {1, 3, 4, 16})
    for (int cols : {1, 5, 16})
      for (int chunk : {1, 4, 9, 16})
        for (int64_t k : {1, 9, 17, 64})
          for (int64_t g : {1, 3, 5}) {
            LoweredPass lp;
            lp.m = 7, lp.p = 3, lp.g = g, lp.k = k;
            const Mapping map(Dataflow::baseline, rows, cols, chunk);
            const LoopNest nest = map.loop_nest(lp.m, lp.p, map.chunk_plan(lp.k, lp.g));
            EXPECT_EQ(map.cycles(nest, 10), spec_cycles(lp, map, 10))
                << rows << "x" << cols << " chunk " << chunk << " k " << k << " g " << g;
          }
}

}  // namespace
}  // namespace mls::hw
