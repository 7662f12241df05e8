// The run's ETA (sim/run/eta.h): exact on made-up timings whose rates are
// constant per layer kind and pass (the expected seconds written out by
// hand), and close to the truth on timings recorded from real runs
// (testbenches/unit/eta_timings/), where the truth is when the recorded run
// actually ended. No clock is read: every time is given.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sim/run/eta.h"

namespace mls {
namespace {

using Item = EtaModel::Item;

TEST(Eta, NoRateBeforeTheFirstComputedPassAndZeroWhenDone) {
  EtaModel eta({{"a fwd", "conv2d fwd", 100, 0}, {"b fwd", "conv2d fwd", 100, 0}});
  EXPECT_FALSE(eta.seconds_left(0).has_value());
  eta.finished("a fwd", 0.0, true, 0.1);  // resumed: no rate yet
  EXPECT_FALSE(eta.seconds_left(0.1).has_value());
  eta.finished("b fwd", 0.0, true, 0.2);
  EXPECT_EQ(eta.seconds_left(0.2), 0.0);
}

TEST(Eta, EachKindAndPassAtItsOwnRate) {
  // conv2d fwd takes 1 s per 100 units, conv2d bwd-data 3 s per 100.
  EtaModel eta({{"c1 fwd", "conv2d fwd", 100, 0},
                {"c1 bwd-data", "conv2d bwd-data", 100, 0},
                {"c2 fwd", "conv2d fwd", 200, 0},
                {"c2 bwd-data", "conv2d bwd-data", 400, 0}});
  eta.finished("c1 fwd", 1.0, false, 1.0);
  // bwd-data not seen yet: every computed pass's rate (1 s / 100).
  EXPECT_NEAR(*eta.seconds_left(1.0), 1.0 + 2.0 + 4.0, 1e-12);
  eta.finished("c1 bwd-data", 3.0, false, 4.0);
  // c2 fwd 200 x 0.01 = 2, c2 bwd-data 400 x 0.03 = 12.
  EXPECT_NEAR(*eta.seconds_left(4.0), 14.0, 1e-12);
  // Half a second into c2 fwd: that much of it is spent.
  EXPECT_NEAR(*eta.seconds_left(4.5), 13.5, 1e-12);
  // Refitted: c2 fwd ran at 2 s per 100, so fwd's rate is now (1 + 4) / 300.
  eta.finished("c2 fwd", 4.0, false, 8.0);
  EXPECT_NEAR(*eta.seconds_left(8.0), 12.0, 1e-12);
}

TEST(Eta, AfterAResumeOnlyTheRemainingWorkCounts) {
  // Three of five passes resumed (0 s); then one computed at 2 s per 100 units.
  std::vector<Item> items;
  for (int i = 0; i < 5; ++i) items.push_back({"l" + std::to_string(i) + " fwd", "linear fwd", 100, 0});
  EtaModel eta(items);
  for (int i = 0; i < 3; ++i) eta.finished("l" + std::to_string(i) + " fwd", 0.0, true, 0.01 * (i + 1));
  eta.finished("l3 fwd", 2.0, false, 2.03);
  // One pass left at 2 s; the resumed ones neither remain nor dilute the rate
  // (the old ETA, time so far x work left / work done, said 2.03 x 1/4 = 0.51).
  EXPECT_NEAR(*eta.seconds_left(2.03), 2.0, 1e-12);
}

TEST(Eta, LanesRunSideBySideAndTheSlowestEndsTheRun) {
  // Lane 0 holds 300 units still, lane 1 100; both at 1 s per 100.
  EtaModel eta({{"a fwd", "conv2d fwd", 100, 0},
                {"b fwd", "conv2d fwd", 100, 1},
                {"c fwd", "conv2d fwd", 300, 0},
                {"d fwd", "conv2d fwd", 100, 1}});
  eta.finished("b fwd", 1.0, false, 1.0);
  // Lane 0's "a fwd" has run for 1 s of its predicted 1 s; then c: 3 s.
  EXPECT_NEAR(*eta.seconds_left(1.0), 3.0, 1e-12);
  eta.finished("a fwd", 1.0, false, 1.0);
  EXPECT_NEAR(*eta.seconds_left(1.0), 3.0, 1e-12);
  eta.finished("d fwd", 1.0, false, 2.0);
  // Only lane 0 is left, 1 s into c: 2 s (the old ETA shared the work over both workers).
  EXPECT_NEAR(*eta.seconds_left(2.0), 2.0, 1e-12);
}

struct Recorded {
  std::string key, group;
  double cost = 0, seconds = 0, now = 0;
  bool resumed = false;
  int lane = 0;
};

std::vector<Recorded> read_timings(const std::string& name) {
  const std::string path = std::string(MLSSIM_ETA_TIMINGS) + "/" + name;
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  std::vector<Recorded> rows;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string cell; std::getline(fields, cell, '|');) f.push_back(cell);
    EXPECT_EQ(f.size(), 7u) << path << ": " << line;
    if (f.size() != 7) continue;
    rows.push_back({f[0], f[1], std::stod(f[2]), std::stod(f[3]), std::stod(f[5]), f[4] == "1", std::stoi(f[6])});
  }
  return rows;
}

// Replays a recorded run; returns the ETA after each line and the time the
// run really had left then (its last line's time minus this line's).
std::vector<std::pair<double, double>> replay(const std::vector<Recorded>& rows) {
  std::vector<Item> items;
  for (const Recorded& r : rows) items.push_back({r.key, r.group, r.cost, r.lane});
  EtaModel eta(items);
  std::vector<std::pair<double, double>> out;
  for (const Recorded& r : rows) {
    eta.finished(r.key, r.seconds, r.resumed, r.now);
    const std::optional<double> left = eta.seconds_left(r.now);
    out.push_back({left ? *left : NAN, rows.back().now - r.now});
  }
  return out;
}

// From the `from`-th line on, every ETA is within `rel` of the time the run
// really had left, or `abs` seconds (a pass's own noise near the end).
void expect_close(const std::string& name, size_t from, double rel, double abs) {
  const std::vector<Recorded> rows = read_timings(name);
  ASSERT_EQ(rows.size(), 57u) << name;
  const auto etas = replay(rows);
  for (size_t i = from; i < etas.size(); ++i) {
    const auto [eta, actual] = etas[i];
    EXPECT_LE(std::fabs(eta - actual), std::max(rel * actual, abs))
        << name << " line " << i + 1 << " (" << rows[i].key << "): ETA " << eta << " s, the run had " << actual
        << " s left";
  }
}

// The first lines of a run price the rest at the rate of its first passes,
// which carry one-time costs (the first layer's tensors read and quantized),
// so the checks start a few lines in. The slack in seconds covers what no
// rate sees: the parent of run -j reads its workers' lines every 0.1 s, and a
// worker's start and end.
TEST(EtaRecorded, OneProcess) { expect_close("eta_resnet20_j1.txt", 8, 0.25, 0.15); }

// The old ETA (time so far x work left / work done) said 10.5 s at line 5 of
// this run, which had 3.0 s left: it counted the workers' start as work.
TEST(EtaRecorded, TwoWorkers) { expect_close("eta_resnet20_j2.txt", 12, 0.25, 0.2); }

// The first 28 (-j 1) and 30 (-j 2) lines are resumed; from the first
// computed pass on, only the work still to do counts (the old ETA said 5.7 s
// at line 31 of the -j 2 run, which had 1.4 s left).
TEST(EtaRecorded, ResumedOneProcess) { expect_close("eta_resnet20_resume_j1.txt", 32, 0.25, 0.15); }
// In the -j 2 run the machine's load rose: its last passes took 0.14-0.17 s
// where the first took 0.07-0.11 s, which no rate measured before can know.
TEST(EtaRecorded, ResumedTwoWorkers) { expect_close("eta_resnet20_resume_j2.txt", 32, 0.40, 0.35); }

}  // namespace
}  // namespace mls
