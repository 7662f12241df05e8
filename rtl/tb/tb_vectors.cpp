// Streams a vector set written by `mlssim vectors` through one array column
// (mls_column.sv) cycle by cycle and compares, bit for bit, every chunk sum,
// accumulator overflow count, scaled chunk, tree output and output
// accumulator with the golden results in the set (docs/rtl.md).
//
// The column is built for one configuration (the MLS_COL_* definitions);
// a vector set of another is refused.
#include <deque>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "Vmls_column.h"
#include "ref/format/format.h"
#include "ref/mapping/mapping.h"
#include "tb_common.h"
#include "tb_vector_files.h"
#include "tb_modes.h"

namespace mls::rtl_tb {

namespace {

constexpr int kRows = MLS_COL_ROWS;
constexpr int kXBits = 1 + MLS_COL_EX + MLS_COL_MX, kYBits = 1 + MLS_COL_EY + MLS_COL_MY;
constexpr int kSxBits = MLS_COL_EGX + MLS_COL_MGX, kSyBits = MLS_COL_EGY + MLS_COL_MGY;
constexpr int kAccBits = MLS_COL_ACC_BITS;

// Refuses a vector set whose configuration differs from the column's.
void check_configuration(const std::map<std::string, std::string>& meta, const std::string& path) {
  const ElemFormat ex{MLS_COL_EX, MLS_COL_MX}, ey{MLS_COL_EY, MLS_COL_MY};
  const ScaleFormat sx{MLS_COL_EGX, MLS_COL_MGX}, sy{MLS_COL_EGY, MLS_COL_MGY};
  const std::map<std::string, std::string> built = {
      {"x_elem", ex.name()}, {"y_elem", ey.name()}, {"x_scale", sx.name()}, {"y_scale", sy.name()},
      {"acc_bits", std::to_string(kAccBits)}, {"acc_overflow", MLS_COL_WRAP ? "wrap" : "saturate"},
      {"rows", std::to_string(kRows)}};
  for (const auto& [key, value] : built)
    if (meta.count(key) == 0 || meta.at(key) != value)
      throw bad(path, key + " is '" + (meta.count(key) ? meta.at(key) : "") + "', the RTL column is built for '" +
                          value + "'");
}

struct ChunkRecord {
  int64_t m, p, j, sum;
  uint64_t ovf;
  uint32_t scaled;
};

struct TileRecord {
  int64_t m, p, tile;
  uint32_t value;
};

std::vector<ChunkRecord> read_chunks(const std::string& path) {
  std::ifstream in = open(path);
  std::vector<ChunkRecord> v;
  ChunkRecord r;
  while (in >> std::dec >> r.m >> r.p >> r.j >> r.sum >> r.ovf >> std::hex >> r.scaled) v.push_back(r);
  if (!in.eof()) throw bad(path, "unreadable record after " + std::to_string(v.size()));
  return v;
}

std::vector<TileRecord> read_tiles(const std::string& path) {
  std::ifstream in = open(path);
  std::vector<TileRecord> v;
  TileRecord r;
  while (in >> std::dec >> r.m >> r.p >> r.tile >> std::hex >> r.value) v.push_back(r);
  if (!in.eof()) throw bad(path, "unreadable record after " + std::to_string(v.size()));
  return v;
}

// A finished tile waiting for capture, and what the column must produce for it.
struct Tile {
  uint32_t slot_valid = 0;
  bool first = false, last = false;
  uint32_t sx[kRows] = {}, sy[kRows] = {};
  const ChunkRecord* chunk[kRows] = {};  // golden record of each row's chunk
  const TileRecord* tree = nullptr;
  const OutputRecord* output = nullptr;  // set on the output's last tile
};

class ColumnBench {
 public:
  explicit ColumnBench(Checker& check) : check_(check) {
    top_.rst_ni = 0;
    top_.clk_i = 0;
    top_.eval();
    top_.rst_ni = 1;
    top_.eval();
  }

  // One clock cycle: row r gets product (x[r], y[r]) when it has one; `cap`
  // is captured. Outputs are sampled before the edge (they are registers).
  void cycle(const bool* valid, const bool* first, const uint32_t* x, const uint32_t* y, const Tile* cap) {
    uint32_t valid_bits = 0, first_bits = 0;
    for (int r = 0; r < kRows; ++r) {
      valid_bits |= uint32_t(valid[r]) << r;
      first_bits |= uint32_t(first[r]) << r;
      set_field(top_.x_code_i, r * kXBits, kXBits, valid[r] ? x[r] : 0);
      set_field(top_.y_code_i, r * kYBits, kYBits, valid[r] ? y[r] : 0);
    }
    top_.row_valid_i = valid_bits;
    top_.row_first_i = first_bits;
    top_.cap_i = cap != nullptr;
    if (cap) {
      top_.cap_first_i = cap->first;
      top_.cap_last_i = cap->last;
      top_.cap_slot_valid_i = cap->slot_valid;
      for (int r = 0; r < kRows; ++r) {
        set_field(top_.sx_code_i, r * kSxBits, kSxBits, cap->sx[r]);
        set_field(top_.sy_code_i, r * kSyBits, kSyBits, cap->sy[r]);
      }
    }
    sample(cap);
    top_.clk_i = 1;
    top_.eval();
    top_.clk_i = 0;
    top_.eval();
  }

  bool drained() const { return scaled_.empty() && trees_.empty() && outputs_.empty(); }

 private:
  void sample(const Tile* cap) {
    for (int r = 0; r < kRows; ++r) ovf_[r] += (top_.pe_ovf_o >> r) & 1u;
    if (cap) check_capture(*cap);
    if (top_.scaled_valid_o) check_scaled();
    if (top_.tree_valid_o) check_tree();
    if (top_.out_valid_o) check_output();
  }

  static std::string at(const ChunkRecord& c) {
    return "m " + std::to_string(c.m) + " p " + std::to_string(c.p) + " chunk " + std::to_string(c.j);
  }

  void check_capture(const Tile& cap) {
    for (int r = 0; r < kRows; ++r) {
      if (cap.chunk[r]) {
        const ChunkRecord& c = *cap.chunk[r];
        check_.expect_eq(sign_extend(get_field(top_.pe_acc_o, r * kAccBits, kAccBits), kAccBits), c.sum,
                         "chunk sum, " + at(c));
        check_.expect_eq(ovf_[r], c.ovf, "accumulator overflows, " + at(c));
      }
      ovf_[r] = 0;
    }
    scaled_.push_back(&cap);
    trees_.push_back(cap.tree);
    if (cap.output) outputs_.push_back(cap.output);
  }

  void check_scaled() {
    if (scaled_.empty()) return check_.fail("scaled chunks without a captured tile");
    const Tile& t = *scaled_.front();
    scaled_.pop_front();
    check_.expect_eq(uint32_t(top_.scaled_slot_valid_o), t.slot_valid, "scaled slot mask");
    for (int r = 0; r < kRows; ++r)
      if (t.chunk[r])
        check_.expect_eq(hex32(uint32_t(get_field(top_.scaled_o, r * 32, 32))), hex32(t.chunk[r]->scaled),
                         "scaled chunk, " + at(*t.chunk[r]));
  }

  void check_tree() {
    if (trees_.empty()) return check_.fail("a tree output without a tile");
    const TileRecord& t = *trees_.front();
    trees_.pop_front();
    check_.expect_eq(hex32(top_.tree_o), hex32(t.value),
                     "tree, m " + std::to_string(t.m) + " p " + std::to_string(t.p) + " tile " + std::to_string(t.tile));
  }

  void check_output() {
    if (outputs_.empty()) return check_.fail("an output without tiles");
    const OutputRecord& o = *outputs_.front();
    outputs_.pop_front();
    check_.expect_eq(hex32(top_.out_acc_o), hex32(o.acc),
                     "output accumulator, m " + std::to_string(o.m) + " p " + std::to_string(o.p));
  }

  Checker& check_;
  Vmls_column top_;
  uint64_t ovf_[kRows] = {};
  std::deque<const Tile*> scaled_;
  std::deque<const TileRecord*> trees_;
  std::deque<const OutputRecord*> outputs_;
};

// The layer-pass's loop sizes from meta.txt.
struct Sizes {
  int64_t m, p, g, k, chunk;
};

}  // namespace

int run_vector_test(const std::string& dir) {
  const std::string meta_path = dir + "/meta.txt";
  const auto meta = read_meta(meta_path);
  check_configuration(meta, meta_path);
  const Sizes n{meta_int(meta, "m", meta_path), meta_int(meta, "p", meta_path), meta_int(meta, "g", meta_path),
                meta_int(meta, "k", meta_path), meta_int(meta, "chunk", meta_path)};
  const Operand x = read_operand(dir + "/x.txt", n.m, n.g, n.k);
  const Operand y = read_operand(dir + "/y.txt", n.p, n.g, n.k);
  const std::vector<ChunkRecord> chunks = read_chunks(dir + "/chunks.txt");
  const std::vector<TileRecord> tiles = read_tiles(dir + "/tiles.txt");
  const std::vector<OutputRecord> outputs = read_outputs(dir + "/outputs.txt");
  if (int64_t(outputs.size()) != n.m * n.p) throw bad(dir + "/outputs.txt", "does not hold m * p records");

  // Chunk order only (which chunk each row reduces); the arithmetic is the RTL's.
  const Mapping map(Dataflow::baseline, kRows, 1, int(n.chunk));
  const LoopNest nest = map.loop_nest(1, 1, map.chunk_plan(n.k, n.g));
  if (int64_t(tiles.size()) != n.m * n.p * nest.chunk_tiles) throw bad(dir + "/tiles.txt", "wrong record count");

  Checker check("vectors " + meta.at("layer") + " " + meta.at("pass"));
  ColumnBench bench(check);
  std::deque<Tile> pending;  // tiles fed, awaiting or in capture (stable addresses)
  size_t next_chunk = 0, next_tile = 0;
  bool valid[kRows], first[kRows];
  uint32_t xc[kRows] = {}, yc[kRows] = {};
  const Tile* cap = nullptr;
  for (const OutputRecord& out : outputs) {
    for (int64_t t = 0; t < nest.chunk_tiles; ++t) {
      Tile tile;
      tile.first = t == 0;
      tile.last = t == nest.chunk_tiles - 1;
      tile.tree = &tiles.at(next_tile++);
      if (tile.tree->m != out.m || tile.tree->p != out.p || tile.tree->tile != t)
        throw bad(dir + "/tiles.txt", "records out of order");
      if (tile.last) tile.output = &out;
      int64_t steps = 0;
      for (int r = 0; r < kRows; ++r) {
        const int64_t j = map.chunk_at(nest, t, r);
        if (j < 0) continue;
        const ChunkRecord& c = chunks.at(next_chunk++);
        if (c.m != out.m || c.p != out.p || c.j != j) throw bad(dir + "/chunks.txt", "records out of order");
        tile.chunk[r] = &c;
        tile.slot_valid |= 1u << r;
        const int64_t g = nest.plan.group_of(j);
        tile.sx[r] = x.scale.at(size_t(out.m * n.g + g));
        tile.sy[r] = y.scale.at(size_t(out.p * n.g + g));
        steps = std::max(steps, nest.plan.length(j));
      }
      for (int64_t s = 0; s < steps; ++s) {
        for (int r = 0; r < kRows; ++r) {
          const int64_t j = map.chunk_at(nest, t, r);
          valid[r] = j >= 0 && s < nest.plan.length(j);
          first[r] = s == 0;
          if (!valid[r]) continue;
          const int64_t g = nest.plan.group_of(j), k = nest.plan.k_begin(j) + s;
          xc[r] = x.code.at(size_t((out.m * n.g + g) * n.k + k));
          yc[r] = y.code.at(size_t((out.p * n.g + g) * n.k + k));
        }
        bench.cycle(valid, first, xc, yc, cap);
        cap = nullptr;
      }
      pending.push_back(tile);
      cap = &pending.back();
      while (pending.size() > 64) pending.pop_front();  // long since checked
    }
  }
  if (next_chunk != chunks.size()) throw bad(dir + "/chunks.txt", "holds more records than the pass has chunks");
  const bool none[kRows] = {};
  for (int i = 0; i < 32 && (cap || !bench.drained()); ++i) {
    bench.cycle(none, none, xc, yc, cap);
    cap = nullptr;
  }
  if (!bench.drained()) check.fail("results still in the pipeline after 32 idle cycles");
  return check.finish();
}

}  // namespace mls::rtl_tb
