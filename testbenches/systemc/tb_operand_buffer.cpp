// Operand-buffer testbench: for each issue, row r reads Y[p, g_r, k_r] once
// (broadcast) and PE (r, c) reads X[m_tile*C + c, g_r, k_r]; read counts.
#include "hw_model/memory/operand_buffer.h"

#include "testbenches/systemc/block_bench.h"
#include "testbenches/systemc/tb_main.h"

namespace mls::hw {
namespace {

TEST(OperandBuffer, ReadsTheAddressedElements) {
  ArrayConfig cfg;
  cfg.rows = 2;
  cfg.cols = 3;
  // M = 5, P = 2, G = 2, K = 3. Codes encode their own coordinates so a wrong
  // address shows: X code = 100 m + 10 g + k, Y code = 100 p + 10 g + k.
  LayerJob job;
  job.m = 5, job.p = 2, job.g = 2, job.k = 3;
  job.mapping = Mapping::for_array(cfg);
  job.x_codes.resize(30);
  for (int m = 0; m < 5; ++m)
    for (int g = 0; g < 2; ++g)
      for (int k = 0; k < 3; ++k) job.x_codes[size_t((g * 3 + k) * 5 + m)] = uint32_t(100 * m + 10 * g + k);
  std::vector<uint32_t> y_codes;
  for (int p = 0; p < 2; ++p)
    for (int g = 0; g < 2; ++g)
      for (int k = 0; k < 3; ++k) y_codes.push_back(uint32_t(100 * p + 10 * g + k));
  job.y = mls::hw::YRows::stored(2, 3, y_codes, std::vector<mls::GroupScale>(4));
  Stats stats;
  tb::BlockBench<IssueCmd, Operands, OperandBuffer> bench("bench",
                                                         [&] { return new OperandBuffer(cfg, &stats); });
  bench.dut->load(job);
  // Each issue a one-step tile; a row reads (g, k) when active.
  auto tile = [](std::vector<int32_t> len, std::vector<int32_t> g, std::vector<int32_t> k) {
    TileRows t;
    t.len = len, t.g = g, t.k0 = k, t.steps = 1;
    for (size_t r = 0; r < len.size(); ++r) t.gk0.push_back(int64_t(g[r]) * 3 + k[r]);
    t.active_at = {uint32_t(len[0] + len[1])}, t.row_steps = uint64_t(len[0] + len[1]);
    return t;
  };
  const TileRows first = tile({1, 1}, {0, 1}, {2, 0}), second = tile({1, 0}, {1, 0}, {1, 0});
  auto issue = [](int mt, int p, int active_cols, const TileRows& rows) {
    IssueCmd c;
    c.tag.valid = true;
    c.tag.m_tile = mt;
    c.tag.p = p;
    c.rows = &rows;
    c.active_cols = active_cols;
    return c;
  };
  bench.stimulus = {issue(0, 1, 3, first), issue(1, 0, 2, second)};
  bench.run(2);
  ASSERT_EQ(bench.seen.size(), 2u);
  // The operands as the multipliers see them, through the read's addresses.
  const Operands& a = bench.seen[0].second;
  EXPECT_EQ(a.y(0), 100u + 2);
  EXPECT_EQ(a.y(1), 100u + 10);
  const uint32_t a_x[2][3] = {{2, 102, 202}, {10, 110, 210}};
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(a.x(r, c), a_x[r][c]) << r << " " << c;
  const Operands& b = bench.seen[1].second;
  EXPECT_EQ(b.active_cols, 2);
  EXPECT_FALSE(b.row_active(1));
  EXPECT_EQ(b.y(0), 11u);
  EXPECT_EQ(b.x(0, 0), 311u);  // m = 3 * 1 + 0
  EXPECT_EQ(b.x(0, 1), 411u);
  EXPECT_EQ(bench.seen[0].first, 2) << "one register stage";
  EXPECT_EQ(stats.read_y, 3u);
  EXPECT_EQ(stats.read_x, 6u + 2u);
}

// A bundle reads its Y row when read, so a later p that takes the row's slot
// over (YRows keeps a few slots when P is unknown or the rows are large)
// does not change what the bundle says: its codes are p's.
TEST(OperandBuffer, OperandsReadTheirYRowAfterAnotherPTookItsSlot) {
  const YRows rows(1, 2, [](int64_t p, uint32_t* codes, GroupScale*) {
    codes[0] = uint32_t(10 * p), codes[1] = uint32_t(10 * p + 1);
  });
  TileRows tile;
  tile.len = {2}, tile.g = {0}, tile.k0 = {0}, tile.gk0 = {0}, tile.active_at = {1, 1}, tile.row_steps = 2, tile.steps = 2;
  Operands o;
  o.tag.valid = true, o.tag.p = 1;
  o.rows = &tile, o.step = 1;
  o.y_rows = &rows;
  EXPECT_EQ(o.y(0), 11u);
  for (int64_t p = 2; p <= 17; ++p) rows.codes(p);  // every slot taken over, p = 9 and 17 in p = 1's
  EXPECT_EQ(o.y(0), 11u);
}

}  // namespace
}  // namespace mls::hw
