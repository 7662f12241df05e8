// Pricing: the event counts of one layer-pass times the energy per action at
// that pass's widths, for the MLS array and the baselines, arithmetic and
// memory (docs/energy.md#events-to-energy).
#include "sim/energy/energy.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ref/core/error.h"
#include "ref/core/operand.h"

namespace mls {

namespace {

// Word widths of the designs' memory traffic (docs/energy.md#3-memory): operand
// element, output element (the width its accumulator implies; --out-format
// narrower than it narrows it, PassWidths::out_bits), whether operands carry MLS group scales, and
// whether the pass reads two fp32 tensor scales (designs with low-bit operands
// need them).
struct DesignWords {
  const char* design;
  int operand_bits;  // 0: the MLS element width of the pass
  int output_bits;
  bool group_scales;
  bool tensor_scales;
};
constexpr DesignWords kWords[] = {{"mls", 0, 32, true, true},
                                  {"fp32", 32, 32, false, false},
                                  {"fp8", 8, 32, false, true},
                                  {"fp8-fp16acc", 8, 16, false, true},
                                  {"bf16", 16, 32, false, false}};
constexpr double kTensorScaleBits = 2 * 32;

double ratio(std::optional<double> baseline, std::optional<double> mls) {
  if (!baseline || !mls || *mls <= 0) return std::numeric_limits<double>::quiet_NaN();
  return *baseline / *mls;
}


std::optional<double> sum(std::optional<double> a, std::optional<double> b) {
  if (!a || !b) return std::nullopt;
  return *a + *b;
}

BlockEnergy mls_blocks(const Stats& e, const ActionPrices& p, uint64_t gated) {
  BlockEnergy b;
  b.multiplier = double(e.mul - gated) * p.element_mul + (gated ? double(gated) * *p.element_mul_gated : 0.0);
  b.local_accumulator = double(e.acc_add - gated) * p.acc_add + (gated ? double(gated) * *p.acc_add_gated : 0.0);
  b.group_scaler = double(e.scale) * p.group_scale;
  b.adder_tree = double(e.tree_add) * p.fp32_add;
  b.output_accumulator = double(e.out_acc) * p.fp32_add;
  b.final_scale = double(e.final_mul) * p.fp32_mul;
  return b;
}

// Every addition of the same reduction (local, tree, output) done by a baseline's accumulator.
double reduction_adds(const Stats& e) { return double(e.acc_add) + double(e.tree_add) + double(e.out_acc); }

// The baselines do the MLS array's products and reduction structure, in their formats.
void price_baselines(const Stats& e, const ActionPrices& p, EnergyResult& r) {
  const double mul = double(e.mul), adds = reduction_adds(e), final_mul = double(e.final_mul);
  r.designs["fp32"].arithmetic = mul * p.fp32_mul + adds * p.fp32_add;
  r.designs["fp8"].arithmetic = mul * *p.fp8_mul + adds * p.fp32_add + final_mul * p.fp32_mul;
  if (p.fp16_add) r.designs["fp8-fp16acc"].arithmetic = mul * *p.fp8_mul + adds * *p.fp16_add + final_mul * p.fp32_mul;
  if (p.bf16_mul) r.designs["bf16"].arithmetic = mul * *p.bf16_mul + adds * p.fp32_add;
}

// Bits per stream at one level for one design's word widths.
struct StreamBits {
  double x = 0, y = 0, out = 0;
};

StreamBits stream_bits(const StreamCounts& c, const DesignWords& words, const PassWidths& w) {
  const bool mls = words.operand_bits == 0;
  const double wx = mls ? w.x_elem.bits() : words.operand_bits, wy = mls ? w.y_elem.bits() : words.operand_bits;
  const double sx = words.group_scales ? w.x_scale.e + w.x_scale.m : 0.0;
  const double sy = words.group_scales ? w.y_scale.e + w.y_scale.m : 0.0;
  const double out_bits = std::min(words.output_bits, w.out_bits);
  return {c.x * wx + c.x_scale * sx, c.y * wy + c.y_scale * sy, c.out * out_bits};
}

// One design's memory energy: the array's buffer reads and output writes; with
// DRAM traffic, the fills (DRAM read, buffer write) and drains (buffer read,
// DRAM write) too.
MemoryEnergy design_memory(const MemoryTraffic& t, const DesignWords& words, const PassWidths& w,
                           const ActionPrices& p) {
  const double rb = *p.read_bit, wb = *p.write_bit;
  const StreamBits array = stream_bits(t.buffer, words, w);
  MemoryEnergy m;
  m.read_x = array.x * rb;
  m.read_y = array.y * rb;
  m.write_out = array.out * wb;
  m.tensor_scales = words.tensor_scales ? kTensorScaleBits * rb : 0.0;
  if (!t.dram) {
    m.buffer = m.read_x + m.read_y + m.write_out + m.tensor_scales;
    return m;
  }
  const StreamBits moved = stream_bits(*t.dram, words, w);
  m.read_x += moved.x * wb;  // fills
  m.read_y += moved.y * wb;
  m.write_out += moved.out * rb;  // drains
  m.buffer = m.read_x + m.read_y + m.write_out + m.tensor_scales;
  if (p.dram_read_bit) {
    m.read_x += moved.x * *p.dram_read_bit;
    m.read_y += moved.y * *p.dram_read_bit;
    m.write_out += moved.out * *p.dram_write_bit;
    m.dram = (moved.x + moved.y) * *p.dram_read_bit + moved.out * *p.dram_write_bit;
  }
  return m;
}

// Without a traffic report: the SystemC model's buffer accesses, one per
// read_x / read_y / write_out, each read with the 1/k share of its group scale.
MemoryTraffic traffic_of_events(const Stats& e, const PassWidths& w) {
  MemoryTraffic t;
  const double k = double(w.group_len);
  t.buffer = {double(e.read_x), double(e.read_x) / k, double(e.read_y), double(e.read_y) / k, double(e.write_out)};
  return t;
}

void price_memory(const MemoryTraffic& t, const ActionPrices& p, const PassWidths& w, EnergyResult& r) {
  for (const DesignWords& words : kWords) {
    const MemoryEnergy m = design_memory(t, words, w, p);
    r.designs[words.design].memory = m.total();
    if (words.operand_bits == 0) r.memory = m;
  }
}


uint64_t gated_products(const Stats& e, const EnergyTable& table, const EnergyOptions& options) {
  if (!options.gating) return 0;
  if (!table.prices_gating())
    throw Error("--gating: energy table " + table.name +
                " prices no gated actions (a flat table needs gated_mul and gated_acc_add, a width-aware one "
                "gated_fraction)");
  if (e.mul_zero > e.mul || e.mul_zero > e.acc_add)
    throw Error("events.mul_zero (" + std::to_string(e.mul_zero) + ") exceeds mul or acc_add");
  return e.mul_zero;
}

}  // namespace

// A result with every design the table prices at zero: what sums start from.
EnergyResult zero_result(const EnergyTable& table, const EnergyOptions& options) {
  EnergyResult r;
  r.tech = table.tech;
  r.unit = table.unit;
  r.gating = options.gating;
  const ActionPrices p = table.prices_at(PassWidths{});
  for (const char* design : kDesigns) r.designs[design] = {};
  r.designs["mls"].arithmetic = r.designs["fp32"].arithmetic = r.designs["fp8"].arithmetic = 0.0;
  if (p.fp16_add) r.designs["fp8-fp16acc"].arithmetic = 0.0;
  if (p.bf16_mul) r.designs["bf16"].arithmetic = 0.0;
  if (p.read_bit) {
    r.memory = MemoryEnergy{};
    for (const char* design : kDesigns) r.designs[design].memory = 0.0;
  }
  return r;
}

// --- results ---------------------------------------------------------------

void price_vector(const hw::VectorWork& v, uint64_t requant, const VectorPrices& p, EnergyResult& r) {
  const double ops = double(v.vec_add) * p.add + double(v.vec_mul) * p.mul + double(v.vec_div) * p.div +
                     double(v.vec_exp) * p.exp + double(v.vec_rsqrt) * p.rsqrt;
  const double per_element = p.max_compare + p.elem_round;
  const double once = double(v.quant_elements >= requant ? v.quant_elements - requant : 0);
  const double mls = ops + double(v.quant_elements) * per_element + double(v.quant_groups) * p.scale_round +
                     double(v.quant_tensors) * p.div;
  const double fp8 = ops + once * per_element + double(v.quant_tensors) * p.div;
  r.by_block.vector = mls;
  r.designs["mls"].vector = mls;
  r.designs["fp32"].vector = ops;
  r.designs["fp8"].vector = fp8;
  r.designs["fp8-fp16acc"].vector = fp8;
  r.designs["bf16"].vector = ops + once * p.bf16_round;
}

// Over block_fields() in report order, then unquantized: the order of the sum.
double BlockEnergy::total() const {
  double sum = 0;
  for (const BlockField& f : block_fields()) sum += this->*f.value;
  return sum + unquantized;
}

BlockEnergy& BlockEnergy::operator+=(const BlockEnergy& o) {
  for (const BlockField& f : block_fields()) this->*f.value += o.*f.value;
  unquantized += o.unquantized;
  vector += o.vector;
  return *this;
}

MemoryEnergy& MemoryEnergy::operator+=(const MemoryEnergy& o) {
  read_x += o.read_x;
  read_y += o.read_y;
  write_out += o.write_out;
  tensor_scales += o.tensor_scales;
  buffer += o.buffer;
  dram += o.dram;
  return *this;
}

std::optional<double> DesignEnergy::total() const {
  const std::optional<double> both = sum(arithmetic, memory);
  return both ? std::optional<double>(*both + vector) : std::nullopt;
}

double EnergyResult::over_mls(const std::string& baseline) const {
  return ratio(designs.at(baseline).arithmetic, designs.at("mls").arithmetic);
}

double EnergyResult::total_over_mls(const std::string& baseline) const {
  return ratio(designs.at(baseline).total(), designs.at("mls").total());
}

EnergyResult& EnergyResult::operator+=(const EnergyResult& o) {
  by_block += o.by_block;
  if (memory && o.memory) *memory += *o.memory;
  else memory.reset();
  for (auto& [design, energy] : designs) {
    const DesignEnergy& other = o.designs.at(design);
    energy.arithmetic = sum(energy.arithmetic, other.arithmetic);
    energy.memory = sum(energy.memory, other.memory);
    energy.vector += other.vector;
  }
  actions.reset();
  return *this;
}

EnergyResult compute_energy(const Stats& events, const EnergyTable& table, const PassWidths* widths,
                            const EnergyOptions& options, const MemoryTraffic* traffic,
                            const hw::VectorWork& vector) {
  const bool needs_widths = table.model == EnergyTable::Model::width_aware || table.prices_memory();
  if (needs_widths && !widths)
    throw Error("no operand formats to price with (the entry has no \"formats\" and the report no \"config\")");
  const PassWidths w = widths ? *widths : PassWidths{};
  if (table.prices_memory() && !traffic && w.group_len < 1)
    throw Error("no group length k to share the group scales over");
  const ActionPrices prices = table.prices_at(w);
  EnergyResult r = zero_result(table, options);
  r.by_block = mls_blocks(events, prices, gated_products(events, table, options));
  r.designs["mls"].arithmetic = r.by_block.total();
  price_baselines(events, prices, r);
  if (prices.read_bit) price_memory(traffic ? *traffic : traffic_of_events(events, w), prices, w, r);
  price_vector(vector, events.requant, prices.vector, r);
  r.actions = prices;
  return r;
}

void add_arithmetic(EnergyResult& total, const EnergyResult& r) {
  total.by_block += r.by_block;
  for (auto& [design, e] : total.designs) {
    e.arithmetic = sum(e.arithmetic, r.designs.at(design).arithmetic);
    e.vector += r.designs.at(design).vector;
  }
}

// The compulsory fp32 traffic of an unquantized pass at the buffers, the same
// in every design.
MemoryEnergy fp32_compulsory(const Fp32Words& words, const ActionPrices& p) {
  MemoryEnergy m;
  m.read_x = double(words.x) * 32 * *p.read_bit;
  m.read_y = double(words.y) * 32 * *p.read_bit;
  m.write_out = double(words.out) * 32 * *p.write_bit;
  m.buffer = m.read_x + m.read_y + m.write_out;
  return m;
}

EnergyResult unquantized_energy(uint64_t macs, const EnergyTable& table, const EnergyOptions& options,
                                const hw::VectorWork& vector, const std::optional<Fp32Words>& words) {
  EnergyResult r = zero_result(table, options);
  const ActionPrices p = table.prices_at(PassWidths{});
  const double energy = double(macs) * (p.fp32_mul + p.fp32_add);
  r.by_block.unquantized = energy;
  if (words && p.read_bit) r.memory = fp32_compulsory(*words, p);
  else r.memory.reset();
  for (auto& [design, e] : r.designs) {
    if (e.arithmetic) *e.arithmetic += energy;
    if (r.memory) e.memory = r.memory->total();
    else e.memory.reset();
  }
  price_vector(vector, 0, p.vector, r);  // its vector ops (an fp32 layer quantizes nothing)
  return r;
}

}  // namespace mls
