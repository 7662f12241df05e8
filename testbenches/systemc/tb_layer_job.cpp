// The layer job's Y rows (hw_model/job/layer_job.h, YRows): for each p, the
// codes and group scales the buffers hand out must be the lowering's row
// encoded element by element, written here from the format's own encoder
// (pack(encode_q(|q|, sign)), +0 for a zero tap) and the group-scale table,
// never from the job's code book. Rows of conv lowerings whose rows separate
// (the job encodes them from their parts) and the same passes with the parts
// cleared (it encodes generated index rows), in e2m4 and e3m6 (a table of
// codes; a separable row copies Y's codes encoded once, in bytes and in
// 16-bit words) and e4m3 (too many magnitudes for a table: each element
// encoded on its own);
// and a pass too large for a slot per row, whose slots are reused.
#include <random>
#include <string>
#include <vector>

#include "hw_model/job/layer_job.h"
#include "ref/quant/quantizer.h"
#include "ref/workload/conv2d.h"
#include "testbenches/systemc/tb_conv_passes.h"
#include "testbenches/systemc/tb_main.h"

namespace mls::hw {
namespace {

using tb::random_tensor;

uint32_t expected_code(const QuantTensor& t, int32_t index) {
  if (index < 0) return 0;
  const int32_t q = t.sq[size_t(index)];
  return pack(t.elem, encode_q(t.elem, q < 0 ? -int64_t(q) : q, q < 0));
}

// Row p of the job against the lowering's index row.
void expect_row(const LayerJob& job, const LoweredPass& lp, const QuantTensor& y, int64_t p, const std::string& what) {
  const RowTables rows = y_tables(lp, p, p + 1);
  const int64_t gk = lp.g * lp.k;
  const uint32_t* codes = job.y.codes(p);
  for (int64_t s = 0; s < gk; ++s)
    ASSERT_EQ(codes[s], expected_code(y, rows.index[size_t(s)])) << what << " row " << p << " slot " << s;
  const GroupScale* scales = job.y.scales(p);
  for (int64_t g = 0; g < lp.g; ++g) {
    const GroupScale want = y.sg[size_t(rows.groups[size_t(g)])];
    ASSERT_EQ(scales[g].exp, want.exp) << what << " row " << p << " group " << g;
    ASSERT_EQ(scales[g].man, want.man) << what << " row " << p << " group " << g;
  }
}

// Every row of the job, asked for in order and then backwards; and the
// job's separable rows (its table of them) row for row the lowering's.
void expect_rows(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y, const std::string& what) {
  TensorF out(lp.out_shape);
  const LayerJob job = make_layer_job(lp, x, y, Mapping(Dataflow::baseline, 8, 8, 16), out.data.data());
  for (int64_t i = 0; i < 2 * lp.p; ++i) {
    ASSERT_NO_FATAL_FAILURE(expect_row(job, lp, y, i < lp.p ? i : 2 * lp.p - 1 - i, what));
  }
  ASSERT_EQ(bool(job.y_parts), bool(lp.y_parts)) << what;
  if (!lp.y_parts) return;
  std::vector<int32_t> got(size_t(lp.k + lp.g)), want(got.size());
  for (int64_t p = lp.p - 1; p >= 0; --p) {
    const RowBase a = job.y_parts.offsets(p, got.data()), b = lp.y_parts.offsets(p, want.data());
    job.y_parts.groups(p, got.data() + lp.k);
    lp.y_parts.groups(p, want.data() + lp.k);
    ASSERT_EQ(a.base, b.base) << what << " row " << p;
    ASSERT_EQ(a.step, b.step) << what << " row " << p;
    ASSERT_EQ(got, want) << what << " row " << p;
  }
}

// A forward 3 x 3, pad-1 conv over 128 x 128 planes: P G K = 32768 x 32 x 9
// codes, over YRows' 16 MiB, so its rows share eight slots, and a row at
// the border (zero taps) takes the slot of an inner one (none) eight rows
// on: its zero taps must read +0, not what the slot held.
TEST(LayerJob, YRowsInSharedSlotsAreWholeRows) {
  const QuantConfig qc;
  const Shape ws{4, 32, 3, 3}, as{2, 32, 128, 128};
  const QuantTensor qw = quantize(random_tensor(ws, 6), "l.weight", qc),
                    qa = quantize(random_tensor(as, 7), "l.input", qc);
  Conv2d conv(ConvParams{1, 1, 1, 1, 1, 1});
  conv.bind(ws, as, nullptr);
  LoweredPass lp = conv.lower(Pass::fwd, qw.layout, qa.layout);
  ASSERT_GT(lp.p * lp.g * lp.k * 4, int64_t{16} << 20);
  for (bool parts : {true, false}) {
    if (!parts) lp.y_parts = {};
    TensorF out(lp.out_shape);
    const LayerJob job = make_layer_job(lp, qw, qa, Mapping(Dataflow::baseline, 8, 8, 16), out.data.data());
    const std::string what = parts ? "parts" : "index rows";
    for (int64_t p = 0; p < 3 * 128; ++p) ASSERT_NO_FATAL_FAILURE(expect_row(job, lp, qa, p, what));
    ASSERT_NO_FATAL_FAILURE(expect_row(job, lp, qa, lp.p - 1, what));
    ASSERT_NO_FATAL_FAILURE(expect_row(job, lp, qa, 0, what + " (evicted)"));
    EXPECT_GT(job.y.fills(), uint64_t(3 * 128 + 1));
  }
}

TEST(LayerJob, YRowsAreTheLoweringsRowsEncoded) {
  // conv1-like (7 x 7, stride 2, pad 3; decomposes) and a grouped, dilated 3 x 3.
  const tb::ConvGeo geos[] = {{{6, 3, 7, 7}, {2, 3, 15, 15}, ConvParams{2, 2, 3, 3, 1, 1}},
                              {{8, 2, 3, 3}, {2, 4, 9, 8}, ConvParams{1, 1, 2, 2, 2, 2, 2}}};
  int separable = 0;
  // e4m12: 17-bit codes, too wide for the codes encoded once, so the rows
  // are encoded tap by tap.
  for (const char* elem : {"e2m4", "e3m6", "e4m3", "e4m12"})
    for (const tb::ConvGeo& geo : geos) {
      QuantConfig qc;
      qc.elem = parse_elem_format(elem);
      const tb::ConvCase conv(geo, qc, qc, qc);
      for (tb::NamedPass& n : conv.passes()) {
        const std::string what = std::string(elem) + " " + n.what;
        separable += bool(n.lp.y_parts);
        expect_rows(n.lp, *n.x, *n.y, what);
        n.lp.y_parts = {};
        expect_rows(n.lp, *n.x, *n.y, what + " (index rows)");
      }
    }
  EXPECT_GE(separable, 26);
}

}  // namespace
}  // namespace mls::hw
