// The memory system (hw_model/memory/): traffic and stalls of a conv layer's
// forward pass through the whole array, held against expectations derived
// here from the layer's sizes and its lowering tables, never from the model:
// compulsory traffic when the buffers hold everything, the streaming traffic
// of a buffer that holds one tile, the bandwidth bound on cycles, double
// buffering, and the refusal of a buffer smaller than one tile; and Y's plan,
// demand by demand, against first touches counted here from Y's index rows
// for conv lowerings whose rows separate (the plan reads their parts) and
// the same passes with the parts cleared (the plan walks the rows).
#include <cstring>
#include <random>
#include <set>

#include "hw_model/job/layer_job.h"
#include "hw_model/array/mac_array.h"
#include "hw_model/memory/memory_plan.h"
#include "hw_model/memory/tile_buffer.h"
#include "ref/golden/golden_conv.h"
#include "ref/quant/quantizer.h"
#include "ref/workload/conv2d.h"
#include "testbenches/systemc/tb_conv_passes.h"
#include "testbenches/systemc/tb_main.h"

namespace mls::hw {
namespace {

using tb::random_tensor;

// A 3x3, pad-1 conv: W [32, 8, 3, 3], A [2, 8, 16, 16]. Forward: M = 32 (two
// m-tiles on 16 columns), P = 512, G = 8, K = 9; one chunk tile (8 chunks of 9).
// At e2m4 / e8m1, W is 2016 bytes with its scales and A 3602: more than 1 KiB.
struct Layer {
  MlsConfig cfg;
  TensorF w = random_tensor({32, 8, 3, 3}, 1), a = random_tensor({2, 8, 16, 16}, 2);
  QuantTensor qw, qa;
  LoweredPass lp;
  explicit Layer(const MemoryConfig& mem) {
    cfg.memory = mem;
    cfg.validate();
    Conv2d conv(ConvParams{1, 1, 1, 1, 1, 1});
    conv.bind(w.shape, a.shape, nullptr);
    qw = quantize(w, "l.weight", cfg.quant.weight);
    qa = quantize(a, "l.input", cfg.quant.input);
    lp = conv.lower(Pass::fwd, qw.layout, qa.layout);
  }
  // Bits of one element and one scale of each operand (e2m4, e8m1 by default).
  int elem_bits() const { return 1 + cfg.quant.weight.elem.e + cfg.quant.weight.elem.m; }
  int scale_bits() const { return cfg.quant.weight.scale.e + cfg.quant.weight.scale.m; }
  uint64_t nonzero_y_taps() const {
    uint64_t n = 0;
    for (int32_t i : mls::y_tables(lp).index) n += i >= 0;
    return n;
  }
};

struct Outcome {
  Stats stats;
  Traffic traffic;
  bool bit_exact = true;
};

Outcome run(ArraySim& sim, const Layer& l, Dataflow dataflow, const MemoryConfig& mem) {
  const Mapping map(dataflow, 16, 16, 16);
  TensorF out(l.lp.out_shape);
  const LayerJob job = make_layer_job(l.lp, l.qw, l.qa, map, out.data.data());
  const MemoryPlan plan = make_memory_plan(l.lp, job, mem);
  Outcome o;
  o.stats = sim.run(job, plan);
  o.traffic = sim.traffic();
  const GoldenResult golden = golden_pass(l.lp, l.qw, l.qa, l.cfg.array, map);
  o.bit_exact = std::memcmp(out.data.data(), golden.out.data.data(), out.data.size() * sizeof(float)) == 0;
  return o;
}

// Issue cycles of the forward pass: 2 m-tiles x 512 p x one tile of 9 steps.
constexpr uint64_t kIssues = 2 * 512 * 9;

TEST(Memory, CompulsoryTrafficWhenTheBuffersHoldEverything) {
  MemoryConfig mem;
  mem.x_buffer_kb = mem.y_buffer_kb = mem.out_buffer_kb = 64;  // everything fits
  mem.dram_bw = 16;
  mem.dram_latency = 30;
  const Layer l(mem);
  ArraySim sim(l.cfg);
  for (Dataflow df : {Dataflow::baseline, Dataflow::weight_stationary, Dataflow::output_stationary}) {
    SCOPED_TRACE(to_string(df));
    const Outcome o = run(sim, l, df, mem);
    EXPECT_TRUE(o.bit_exact);
    // Each tensor element and group scale once (nc grouping: a scale per
    // (co, ci) of W and per (n, c) of A); each output written once.
    EXPECT_EQ(o.traffic.x_dram_read, uint64_t(l.w.size()));
    EXPECT_EQ(o.traffic.x_scale_dram_read, 32u * 8u);
    EXPECT_EQ(o.traffic.y_dram_read, uint64_t(l.a.size()));
    EXPECT_EQ(o.traffic.y_scale_dram_read, 2u * 8u);
    EXPECT_EQ(o.traffic.out_dram_write, 32u * 512u);
    EXPECT_EQ(o.traffic.dram_write_bytes, 32u * 512u * 4u);
    // Bytes: the elements' bits, rounded up once per fetched tile at most.
    const uint64_t bits = uint64_t(l.w.size() + l.a.size()) * uint64_t(l.elem_bits()) + (256u + 16u) * uint64_t(l.scale_bits());
    EXPECT_GE(o.traffic.dram_read_bytes, bits / 8);
    EXPECT_LE(o.traffic.dram_read_bytes, bits / 8 + 2 + 512);
    EXPECT_EQ(o.stats.cycles, kIssues + o.stats.stall_cycles + o.stats.pipeline_depth);
    EXPECT_GT(o.stats.stall_cycles, 30u) << "the first tiles arrive after the latency";
  }
}

TEST(Memory, AStreamingYBufferRefetchesEachColumnPerMTileUnlessTheDataflowKeepsIt) {
  MemoryConfig mem;
  mem.y_buffer_kb = 1;  // two Y tiles of 8 x 9 elements and 8 scales (72 bytes): streams
  mem.dram_bw = 64;
  const Layer l(mem);
  ArraySim sim(l.cfg);
  const Outcome base = run(sim, l, Dataflow::baseline, mem);
  EXPECT_TRUE(base.bit_exact);
  // Baseline (m-tile, p): every Y column fetched once per m-tile, padding excluded.
  EXPECT_EQ(base.traffic.y_dram_read, 2 * l.nonzero_y_taps());
  EXPECT_EQ(base.traffic.y_scale_dram_read, 2u * 512u * 8u);
  EXPECT_GT(base.traffic.y_dram_read, uint64_t(l.a.size())) << "above the compulsory traffic";
  // Output-stationary (p, m-tile): one fetch per column.
  const Outcome os = run(sim, l, Dataflow::output_stationary, mem);
  EXPECT_TRUE(os.bit_exact);
  EXPECT_EQ(os.traffic.y_dram_read, l.nonzero_y_taps());
  // Its rows hold their Y chunk across the two m-tiles: half the Y buffer reads.
  EXPECT_EQ(os.traffic.y_buffer_read * 2, base.traffic.y_buffer_read);
  // Weight-stationary PEs hold their X chunk across all 512 p.
  const Outcome ws = run(sim, l, Dataflow::weight_stationary, mem);
  EXPECT_TRUE(ws.bit_exact);
  EXPECT_EQ(ws.traffic.x_buffer_read * 512, base.traffic.x_buffer_read);
}

TEST(Memory, BandwidthBoundCyclesFollowTheBytes) {
  MemoryConfig mem;
  mem.dram_bw = 1;  // far below what the array consumes
  const Layer l(mem);
  ArraySim sim(l.cfg);
  const Outcome o = run(sim, l, Dataflow::baseline, mem);
  EXPECT_TRUE(o.bit_exact);
  const uint64_t bytes = o.traffic.dram_read_bytes + o.traffic.dram_write_bytes;
  ASSERT_GT(bytes, 4 * kIssues) << "the case must be bandwidth bound";
  // One channel at one byte per edge: never faster than its bytes, and (the
  // channel never idles once the first tiles are queued) within 1% + 64 edges.
  EXPECT_GE(o.stats.cycles, bytes);
  EXPECT_LE(o.stats.cycles, bytes + bytes / 100 + 64);
  EXPECT_EQ(o.stats.cycles, kIssues + o.stats.stall_cycles + o.stats.pipeline_depth);
}

TEST(Memory, DoubleBufferingHidesRefills) {
  MemoryConfig mem;
  mem.dram_bw = 32;  // a Y tile (<= 72 bytes) and a block's outputs (64 bytes) in 5 edges
  const Layer l(mem);
  ArraySim sim(l.cfg);
  // A Y tile: 72 elements of 7 bits and 8 scales of 9 bits = 72 bytes; X resident.
  MemoryConfig one = mem, two = mem;
  one.y_buffer_kb = two.y_buffer_kb = 1;
  TensorF out(l.lp.out_shape);
  const Mapping map(Dataflow::baseline, 16, 16, 16);
  const LayerJob job = make_layer_job(l.lp, l.qw, l.qa, map, out.data.data());
  MemoryPlan single = make_memory_plan(l.lp, job, one), dual = make_memory_plan(l.lp, job, two);
  EXPECT_EQ(dual.y.slots, 2);
  single.y.slots = 1;  // the same buffer without double buffering
  const Stats s1 = sim.run(job, single), s2 = sim.run(job, dual);
  // Single: each of the 1024 Y refills (up to 72 / 32 = 3 edges, after the
  // release is seen and the request served: 2 more) waits for the previous
  // tile's release; double: the next tile streams in during the current
  // block's 9 cycles, so only the first block waits: for the resident X (both
  // tiles, queued first) and the first Y tile, plus the request's edge.
  EXPECT_GT(s1.stall_cycles, s2.stall_cycles + 1024u * 2u);
  EXPECT_LE(s2.stall_cycles, (dual.x.bytes[0] + dual.x.bytes[1] + dual.y.bytes[0] + 31) / 32 + 2);
}

TEST(Memory, ABufferSmallerThanOneTileIsRefused) {
  MemoryConfig mem;
  mem.x_buffer_kb = 1;  // one X tile: 16 x 8 x 9 elements of 7 bits + 128 scales of 9 bits = 1152 bytes
  const Layer l(MemoryConfig{});
  TensorF out(l.lp.out_shape);
  const LayerJob job = make_layer_job(l.lp, l.qw, l.qa, Mapping(Dataflow::baseline, 16, 16, 16), out.data.data());
  try {
    make_memory_plan(l.lp, job, mem);
    ADD_FAILURE() << "not refused";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.param, "x_buffer_kb");
    EXPECT_NE(std::string(e.what()).find("1152 bytes"), std::string::npos) << e.what();
  }
  mem.x_buffer_kb = 2;
  EXPECT_NO_THROW(make_memory_plan(l.lp, job, mem));
}


// Y's plan of one pass: per demand, the elements, scales and bytes a
// resident buffer fetches (the row's elements and scales no earlier demand
// touched, std::set below) or a streaming one (the row's real slots and its
// g scales), counted here from the index rows.
// Returns how many of its plans streamed.
int expect_y_plan(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y, const std::string& what) {
  int streamed = 0;
  TensorF out(lp.out_shape);
  const int eb = 1 + y.elem.e + y.elem.m, sb = y.scale.e + y.scale.m;
  const RowTables rows = mls::y_tables(lp);
  for (Dataflow df : {Dataflow::baseline, Dataflow::weight_stationary, Dataflow::output_stationary})
    for (int y_kb : {0, 1, 64}) {
      SCOPED_TRACE(what + " " + to_string(df) + " y_buffer_kb " + std::to_string(y_kb));
      MemoryConfig mem;
      mem.y_buffer_kb = y_kb;
      mem.dram_bw = y_kb ? 16 : 0;
      const LayerJob job = make_layer_job(lp, x, y, Mapping(df, 8, 8, 16), out.data.data());
      const OperandPlan plan = make_memory_plan(lp, job, mem).y;
      std::set<int32_t> elems, scales;
      std::vector<uint32_t> first_e, first_s, tile_e;
      for (int64_t t : plan.tile) {
        uint32_t fe = 0, fs = 0, te = 0;
        for (int64_t i = 0; i < lp.g * lp.k; ++i) {
          const int32_t at = rows.index[size_t(t * lp.g * lp.k + i)];
          te += at >= 0;
          fe += at >= 0 && elems.insert(at).second;
        }
        for (int64_t g = 0; g < lp.g; ++g) fs += scales.insert(rows.groups[size_t(t * lp.g + g)]).second;
        first_e.push_back(fe), first_s.push_back(fs), tile_e.push_back(te);
      }
      EXPECT_EQ(int64_t(std::set<int64_t>(plan.tile.begin(), plan.tile.end()).size()), lp.p);
      const bool resident = !y_kb || (elems.size() * eb + scales.size() * sb + 7) / 8 <= uint64_t(y_kb) * 1024;
      EXPECT_EQ(plan.resident, resident);
      streamed += !resident;
      for (size_t d = 0; d < plan.tile.size(); ++d) {
        const uint64_t e = resident ? first_e[d] : tile_e[d], s = resident ? first_s[d] : uint64_t(lp.g);
        EXPECT_EQ(plan.elements[d], e) << "demand " << d;
        EXPECT_EQ(plan.scales[d], s) << "demand " << d;
        EXPECT_EQ(plan.bytes[d], (e * eb + s * sb + 7) / 8) << "demand " << d;
        if (plan.elements[d] != e || plan.scales[d] != s) return streamed;  // one failure per plan
      }
    }
  return streamed;
}

// The edges (from a pass's start) at which a tile buffer first finds each
// of the plan's demands, the controller asking for each tile in order from
// the edge after the last was found, and the memory system's order within
// an edge (dram.at_edge, the buffer's refill, the channel, then the
// controller's acquire).
std::vector<uint64_t> found_at(Dram& dram, TileBuffer& buffer, const OperandPlan& plan, uint64_t& now) {
  dram.reset();
  buffer.load(&plan);
  dram.start();
  buffer.start();
  std::vector<uint64_t> found;
  for (const uint64_t start = now; found.size() < plan.tile.size() && now - start < 10000;) {
    dram.at_edge(++now);
    buffer.edge();
    dram.edge();
    if (buffer.acquire(plan.tile[found.size()])) found.push_back(now - start);
  }
  return found;
}

// A buffer reloaded for another pass finds its demands on the edges a new
// one does: what it found in the pass before (here one tile 0, as a pass
// of one m-tile leaves it) says nothing of the next pass's transfers.
TEST(Memory, AReloadedTileBufferWaitsForItsOwnTransfers) {
  MemoryConfig mem;
  mem.dram_bw = 8;
  mem.dram_latency = 3;
  OperandPlan before, next;
  before.resident = next.resident = false;
  before.slots = next.slots = 1;
  before.tile = {0}, before.bytes = {16}, before.elements = {16}, before.scales = {1};
  next.tile = {0, 1}, next.bytes = {64, 96}, next.elements = {64, 96}, next.scales = {1, 1};
  Dram dram(mem), fresh_dram(mem);
  TileBuffer buffer(&dram, Dram::kX), fresh(&fresh_dram, Dram::kX);
  uint64_t now = 0, fresh_now = 0;
  ASSERT_EQ(found_at(dram, buffer, before, now).size(), 1u);
  const std::vector<uint64_t> want = found_at(fresh_dram, fresh, next, fresh_now);
  ASSERT_EQ(want.size(), 2u);
  EXPECT_GT(want[0], uint64_t(64 / 8)) << "a 64-byte tile takes 8 edges at 8 bytes an edge";
  EXPECT_EQ(found_at(dram, buffer, next, now), want);
}

TEST(Memory, YPlanCountsEachDemandsFirstTouchesFromTheSeparableParts) {
  // conv1-like (7 x 7, stride 2, pad 3; decomposes) and a grouped, dilated 3 x 3.
  // Each has operands over 1 KiB, so a 1 KiB Y buffer streams.
  const tb::ConvGeo geos[] = {{{6, 3, 7, 7}, {2, 3, 23, 23}, ConvParams{2, 2, 3, 3, 1, 1}},
                              {{8, 2, 3, 3}, {2, 4, 13, 12}, ConvParams{1, 1, 2, 2, 2, 2, 2}}};
  int separable = 0, streamed = 0;
  for (const tb::ConvGeo& geo : geos) {
    MlsConfig cfg;
    cfg.validate();
    const tb::ConvCase conv(geo, cfg.quant.weight, cfg.quant.input, cfg.quant.grad_output);
    for (tb::NamedPass& n : conv.passes()) {
      separable += bool(n.lp.y_parts);
      streamed += expect_y_plan(n.lp, *n.x, *n.y, n.what);
      n.lp.y_parts = {};
      streamed += expect_y_plan(n.lp, *n.x, *n.y, n.what + " (rows walked)");
    }
  }
  EXPECT_GE(separable, 10);
  EXPECT_GE(streamed, 10);
}

}  // namespace
}  // namespace mls::hw
