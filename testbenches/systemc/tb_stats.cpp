// The statistics registry (hw_model/stats/stats.h, docs/developing.md#adding-a-statistic):
// every counter registered once, under a block of the array, += and the JSON
// objects made from the table. The measured pipeline_depth is held against its
// formula by tb_array_regression and testbenches/cli/test_stats.py.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>
#include <string>

#include "hw_model/array/mac_array.h"
#include "hw_model/stats/stats.h"
#include "testbenches/systemc/tb_main.h"

namespace mls {
namespace {

// Counter i holds base + i, so a counter read or added through the wrong
// member shows.
Stats numbered(uint64_t base) {
  Stats s;
  uint64_t i = 0;
  for (const StatInfo& info : kStatTable) s.*info.counter = base + i++;
  return s;
}

TEST(StatsRegistry, EveryCounterHasOneRowWithItsMeaning) {
  std::set<std::string> keys;
  for (const StatInfo& info : kStatTable) {
    SCOPED_TRACE(info.key);
    EXPECT_TRUE(keys.insert(info.key).second) << "key registered twice";
    for (const StatInfo& other : kStatTable)
      EXPECT_TRUE(&other == &info || other.counter != info.counter) << "member registered twice";
    EXPECT_NE(std::string(info.unit), "");
    EXPECT_NE(std::string(info.description), "");
  }
  // The report keys of docs/reference.md#events, which stored reports and
  // sweeps read, stay; a counter added later adds a key.
  for (const char* key : {"cycles", "pipeline_depth", "stall_cycles", "mul", "mul_zero", "acc_add", "acc_overflow",
                          "scale", "tree_add", "out_acc", "final_mul", "read_x", "read_y", "write_out"})
    EXPECT_EQ(keys.count(key), 1u) << key;
}

TEST(StatsRegistry, BlocksAreBlocksOfTheArray) {
  MlsConfig cfg;
  hw::ArraySim sim(cfg);  // elaborates mac_array
  ASSERT_NE(sc_core::sc_find_object("mac_array"), nullptr);
  const std::vector<std::string> blocks = hw::MacArray::block_names();
  EXPECT_EQ(blocks.size(), 8u) << "controller to final scale";
  for (const StatInfo& info : kStatTable) {
    const std::string block = info.block;
    EXPECT_TRUE(block == "mac_array" || std::find(blocks.begin(), blocks.end(), block) != blocks.end())
        << info.key << ": no block " << block;
  }
}

TEST(StatsRegistry, AddsEveryCounterByName) {
  Stats sum = numbered(100);
  sum += numbered(1000);
  uint64_t i = 0;
  for (const StatInfo& info : kStatTable) {
    EXPECT_EQ(sum.*info.counter, 1100 + 2 * i) << info.key;
    ++i;
  }
}

TEST(StatsRegistry, FlatAndHierarchicalJsonHoldTheSameCounts) {
  const Stats s = numbered(7);
  const nlohmann::json flat = counters_json(s), tree = stats_tree_json(s), info = stats_info_json();
  EXPECT_EQ(flat.size(), std::size(kStatTable));
  EXPECT_EQ(flat.at("mul"), s.mul);
  EXPECT_EQ(tree.at("multiplier").at("mul"), s.mul);
  EXPECT_EQ(tree.at("final_scale").at("write_out"), s.write_out);
  EXPECT_EQ(info.at("local_accumulator").at("acc_overflow").at("unit"), "additions");
  size_t leaves = 0;
  for (const auto& block : tree.items())
    for (const auto& counter : block.value().items()) {
      EXPECT_EQ(counter.value(), flat.at(counter.key())) << block.key() << "." << counter.key();
      EXPECT_TRUE(info.at(block.key()).contains(counter.key()));
      ++leaves;
    }
  EXPECT_EQ(leaves, flat.size()) << "every counter under exactly one block";
}

}  // namespace
}  // namespace mls
