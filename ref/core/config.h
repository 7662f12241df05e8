#pragma once
// The one parameter set that flows from the command line to the quantizer, the
// golden arithmetic and the SystemC array. Validated once, in validate().
#include <cstdint>
#include <string>

#include "ref/core/error.h"
#include "ref/format/format.h"
#include "ref/core/operand.h"

namespace mls {

// A parameter value outside what the model accepts. `param` is the parameter's
// name as the report and sweep files spell it (acc_bits), never a command-line
// flag: ref/ knows no command line, and each front end names the parameter its
// own way (sim/params/params.h spells it --acc-bits). what() is the whole sentence,
// "acc_bits must be in [8, 62], got 7".
struct ConfigError : Error {
  ConfigError(const std::string& param, const std::string& requirement);
  std::string param;        // acc_bits
  std::string requirement;  // must be in [8, 62], got 7
};

// The accepted values of an integer parameter, bounds included.
struct Range {
  int64_t lo, hi;
  std::string text() const;  // "[8, 62]"
};
// Throws ConfigError(param, "must be in [lo, hi], got value") when value is outside r.
void check_range(const std::string& param, int64_t value, Range r);

// How a tensor is cut into groups, each with one group scale S_g:
//   nc, n, c, tensor  by dims 0 and/or 1 (docs/reference.md#the-reference-quantizer);
//   block (kB)        B consecutive elements along one dim, the block axis,
//                     at every index of the other dims (docs/formats.md#block-groupings).
// Grouping::nc etc. name the kinds, so a kind converts to a Grouping.
struct Grouping {
  enum Kind { nc, n, c, tensor, block };
  // B of kB: at least 2 (k1 would be one scale per element, no group at all)
  // and at most 1024 (beyond, a block is a channel-sized group, which c/nc say).
  static constexpr Range kBlock{2, 1024};
  // B of the default block grouping of the kinds that block by default
  // (LayerKind::blocks_by_default; docs/layers.md#default-groupings), chosen by
  // measurement on the bundled traces; `run` and the torch layers apply it.
  static constexpr int kDefaultBlock = 32;

  Kind kind = nc;
  int block_size = 0;  // B, kind == block only

  Grouping(Kind k = nc) : kind(k) {}  // NOLINT: a kind is a grouping
  static Grouping blocks(int size) {
    Grouping g(block);
    g.block_size = size;
    return g;
  }
  bool is_block() const { return kind == block; }
  bool operator==(const Grouping& o) const { return kind == o.kind && block_size == o.block_size; }
  bool operator!=(const Grouping& o) const { return !(*this == o); }
};
enum class Rounding { nearest, stochastic };
// How a group's scale S_g is chosen from its ratio s to the tensor max
// (docs/reference.md#the-reference-quantizer step 2): cover, the smallest
// S_g >= s (the paper's Alg. 1); fit, the smallest S_g >= s / x_max, so that
// the group max lands at most on the element format's largest value x_max.
enum class ScaleRule { cover, fit };
enum class Overflow { saturate, wrap };
// The width at which results leave the array (--out-format): the output
// buffer and DRAM traffic and their energy; values are computed in fp32 and
// not rounded (docs/energy.md#output-width).
enum class OutFormat { fp32, bf16, fp16, e4m3 };
enum class Pass { fwd, bwd_data, bwd_weight };
// Deliberate hardware faults, to prove that --check catches a broken block.
enum class Fault { none, mul_lsb, scaler_mantissa, tree_order };
// The loop order of a layer-pass on the array (ref/mapping/mapping.h): names
// and parsing live with the mapping.
enum class Dataflow { baseline, weight_stationary, output_stationary };
// How a strided conv's backward-data pass is lowered
// (ref/workload/bwd_data_decompose.h): zero-inserted taps, or stride^2 dense
// sub-convolutions.
enum class BwdData { zero_insert, decompose };
// The backward-weight pass's chunking (ref/mapping/mapping.h): chunks of
// `chunk` products, or shorter ones that fill the rows when the batch (its
// groups) leaves rows idle.
enum class BwdWeight { by_batch, fill_rows };

Grouping parse_grouping(const std::string& text);
Rounding parse_rounding(const std::string& text);
ScaleRule parse_scale_rule(const std::string& text);
Overflow parse_overflow(const std::string& text);
OutFormat parse_out_format(const std::string& text);
Pass parse_pass(const std::string& text);
Fault parse_fault(const std::string& text);
std::string to_string(Grouping g);
std::string to_string(Rounding r);
std::string to_string(ScaleRule r);
std::string to_string(Overflow o);
std::string to_string(OutFormat f);
// Bits of one result in `f`: 32, 16, 16, 8.
int out_bits(OutFormat f);
std::string to_string(Pass p);
std::string to_string(Fault f);

struct QuantConfig {
  ElemFormat elem;            // e2m4
  ScaleFormat scale;          // e8m1
  Grouping group = Grouping::nc;
  Rounding rounding = Rounding::stochastic;
  ScaleRule scale_rule = ScaleRule::cover;
  uint64_t seed = 0;
  bool clip = false;          // the paper's in-binade mantissa clipping
};

struct ArrayConfig {
  // The fixed ranges validate() checks; sim/params/params.cpp shows them in --help.
  // tree_stages has none: its bound depends on rows.
  static constexpr Range kRows{1, 1024}, kCols{1, 1024}, kAccBits{8, 62}, kChunk{1, 65536};

  int rows = 16;              // R: chunks reduced per column per tile
  int cols = 16;              // C: output rows m computed side by side
  int acc_bits = 16;          // local accumulator width
  Overflow acc_overflow = Overflow::saturate;
  int chunk = 16;             // products per local accumulation
  int tree_stages = 0;        // adder-tree pipeline registers; 0 = one per level
  Fault fault = Fault::none;  // test-only fault injection
  Dataflow dataflow = Dataflow::baseline;  // loop order and PE-register reuse
  BwdData bwd_data = BwdData::zero_insert;  // strided backward-data lowering
  BwdWeight bwd_weight = BwdWeight::by_batch;  // backward-weight chunking
  OutFormat out_format = OutFormat::fp32;  // width of the results the array writes
  int out_bytes() const { return out_bits(out_format) / 8; }

  int tree_levels() const;    // ceil(log2 rows)
  int effective_tree_stages() const;  // >= 1: the tree's output is registered
  // Latency from an issue to its output write: buffer read, multiply,
  // accumulate, scale, tree stages, output accumulate, final scale.
  int pipeline_depth() const { return 6 + effective_tree_stages(); }
};

// The memory system around the array (hw_model/memory/): buffer capacities,
// DRAM bandwidth and latency. All zero (the default) is the ideal memory:
// operands are in the buffers when a pass starts and nothing stalls.
struct MemoryConfig {
  static constexpr Range kKb{0, 1 << 20}, kBw{0, 1 << 20}, kLatency{0, 1 << 20};
  int x_buffer_kb = 0;    // X buffer capacity in KiB; 0 = unlimited
  int y_buffer_kb = 0;    // Y buffer capacity in KiB; 0 = unlimited
  int out_buffer_kb = 0;  // output buffer capacity in KiB; 0 = unlimited
  int dram_bw = 0;        // DRAM bytes per cycle; 0 = unlimited
  int dram_latency = 0;   // cycles from a transfer's last byte to its use
  bool ideal() const {
    return x_buffer_kb == 0 && y_buffer_kb == 0 && out_buffer_kb == 0 && dram_bw == 0 && dram_latency == 0;
  }
};

struct MlsConfig {
  // Per operand (W, A, E): the plain flags set all three alike today; the
  // multiplier and the scaler take the two formats of each pass.
  PerOperand<QuantConfig> quant = PerOperand<QuantConfig>::all(QuantConfig{});
  ArrayConfig array;
  MemoryConfig memory;
  void validate() const;      // throws ConfigError naming the bad parameter
};

// A block grouping (kB) on one operand needs the same kB on all three;
// throws ConfigError naming the operand's group parameter (group_a).
void check_block_groupings(const PerOperand<QuantConfig>& quant);

}  // namespace mls
