#include "ref/core/config.h"

#include <iterator>

#include "ref/core/error.h"
#include "ref/core/excerpt.h"

namespace mls {

namespace {

template <class E, size_t N>
E parse_enum(const std::string& text, const char* what, const char* const (&names)[N]) {
  for (size_t i = 0; i < N; ++i)
    if (text == names[i]) return static_cast<E>(i);
  std::string list;
  for (size_t i = 0; i < N; ++i) list += (i ? "|" : "") + std::string(names[i]);
  throw Error(std::string("unknown ") + what + " " + quoted_excerpt(text) + " (expected " + list + ")");
}

constexpr const char* kGroupNames[] = {"nc", "n", "c", "tensor"};
constexpr const char* kRoundingNames[] = {"nearest", "stochastic"};
constexpr const char* kScaleRuleNames[] = {"cover", "fit"};
constexpr const char* kOverflowNames[] = {"saturate", "wrap"};
constexpr const char* kOutFormatNames[] = {"fp32", "bf16", "fp16", "e4m3"};
constexpr const char* kPassNames[] = {"fwd", "bwd-data", "bwd-weight"};
constexpr const char* kFaultNames[] = {"none", "mul-lsb", "scaler-mantissa", "tree-order"};

}  // namespace

namespace {

// "k32" -> 32; -1 when the text is not k followed by 1 to 9 digits.
int64_t block_size_of(const std::string& t) {
  if (t.size() < 2 || t.size() > 10 || t[0] != 'k') return -1;
  for (size_t i = 1; i < t.size(); ++i)
    if (t[i] < '0' || t[i] > '9') return -1;
  return std::stoll(t.substr(1));
}

}  // namespace

Grouping parse_grouping(const std::string& t) {
  const int64_t b = block_size_of(t);
  if (b < 0) {
    for (size_t i = 0; i < std::size(kGroupNames); ++i)
      if (t == kGroupNames[i]) return static_cast<Grouping::Kind>(i);
    throw Error("unknown grouping " + quoted_excerpt(t) + " (expected nc|n|c|tensor|kB, B in " +
                Grouping::kBlock.text() + ")");
  }
  if (b < Grouping::kBlock.lo || b > Grouping::kBlock.hi)
    throw Error("grouping " + quoted_excerpt(t) + ": the block size B of kB must be in " + Grouping::kBlock.text() +
                " (k1 would give every element its own scale)");
  return Grouping::blocks(int(b));
}
Rounding parse_rounding(const std::string& t) { return parse_enum<Rounding>(t, "rounding", kRoundingNames); }
ScaleRule parse_scale_rule(const std::string& t) {
  return parse_enum<ScaleRule>(t, "scale rule", kScaleRuleNames);
}
Overflow parse_overflow(const std::string& t) { return parse_enum<Overflow>(t, "overflow policy", kOverflowNames); }
OutFormat parse_out_format(const std::string& t) { return parse_enum<OutFormat>(t, "output format", kOutFormatNames); }
std::string to_string(OutFormat f) { return kOutFormatNames[static_cast<int>(f)]; }
int out_bits(OutFormat f) { return f == OutFormat::fp32 ? 32 : f == OutFormat::e4m3 ? 8 : 16; }
Pass parse_pass(const std::string& t) { return parse_enum<Pass>(t, "pass", kPassNames); }
Fault parse_fault(const std::string& t) { return parse_enum<Fault>(t, "fault", kFaultNames); }
std::string to_string(Fault f) { return kFaultNames[static_cast<int>(f)]; }
std::string to_string(Grouping g) {
  return g.is_block() ? "k" + std::to_string(g.block_size) : kGroupNames[static_cast<int>(g.kind)];
}
std::string to_string(Rounding r) { return kRoundingNames[static_cast<int>(r)]; }
std::string to_string(ScaleRule r) { return kScaleRuleNames[static_cast<int>(r)]; }
std::string to_string(Overflow o) { return kOverflowNames[static_cast<int>(o)]; }
std::string to_string(Pass p) { return kPassNames[static_cast<int>(p)]; }

int ArrayConfig::tree_levels() const {
  int levels = 0;
  while ((1 << levels) < rows) ++levels;
  return levels;
}

int ArrayConfig::effective_tree_stages() const {
  const int stages = tree_stages == 0 ? tree_levels() : tree_stages;
  return stages < 1 ? 1 : stages;
}

ConfigError::ConfigError(const std::string& name, const std::string& req)
    : Error(name + " " + req), param(name), requirement(req) {}

std::string Range::text() const { return "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]"; }

void check_range(const std::string& param, int64_t value, Range r) {
  if (value < r.lo || value > r.hi)
    throw ConfigError(param, "must be in " + r.text() + ", got " + std::to_string(value));
}

void MlsConfig::validate() const {
  const ArrayConfig& a = array;
  check_range("rows", a.rows, ArrayConfig::kRows);
  check_range("cols", a.cols, ArrayConfig::kCols);
  check_range("acc_bits", a.acc_bits, ArrayConfig::kAccBits);
  check_range("chunk", a.chunk, ArrayConfig::kChunk);
  const int max_stages = a.tree_levels() < 1 ? 1 : a.tree_levels();
  if (a.tree_stages < 0 || a.tree_stages > max_stages)
    throw ConfigError("tree_stages", "must be in [0, max(1, ceil(log2 rows))] = [0, " + std::to_string(max_stages) +
                                         "], got " + std::to_string(a.tree_stages));
  check_range("x_buffer_kb", memory.x_buffer_kb, MemoryConfig::kKb);
  check_range("y_buffer_kb", memory.y_buffer_kb, MemoryConfig::kKb);
  check_range("out_buffer_kb", memory.out_buffer_kb, MemoryConfig::kKb);
  check_range("dram_bw", memory.dram_bw, MemoryConfig::kBw);
  check_range("dram_latency", memory.dram_latency, MemoryConfig::kLatency);
  check_block_groupings(quant);
}

void check_block_groupings(const PerOperand<QuantConfig>& quant) {
  // Every pair of W, A and E meets in a pass, whose X and Y must share one
  // partition of the reduction index (docs/formats.md#block-groupings): a
  // block grouping on one operand needs the same kB on the other two.
  const Operand ops[] = {Operand::weight, Operand::input, Operand::grad_output};
  const char* names[] = {"group_w", "group_a", "group_e"};
  const char* tensors[] = {"W", "A", "E"};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      const Grouping a = quant[ops[i]].group, b = quant[ops[j]].group;
      if (i != j && a.is_block() && a != b)
        throw ConfigError(names[j], "is " + to_string(b) + " but " + tensors[i] + "'s grouping is " + to_string(a) +
                                        ": a block grouping needs the same kB on W, A and E (the two operands of "
                                        "every pass share one block partition of its reduction)");
    }
}

}  // namespace mls
