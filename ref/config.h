#pragma once
// The one parameter set that flows from the command line to the quantizer, the
// golden arithmetic and the SystemC array. Validated once, in validate().
#include <cstdint>
#include <string>

#include "ref/format.h"

namespace mls {

enum class Grouping { nc, n, c, tensor };
enum class Rounding { nearest, stochastic };
enum class Overflow { saturate, wrap };
enum class Pass { fwd, bwd_data, bwd_weight };
// Deliberate hardware faults, to prove that --check catches a broken block.
enum class Fault { none, mul_lsb, scaler_mantissa, tree_order };

Grouping parse_grouping(const std::string& text);
Rounding parse_rounding(const std::string& text);
Overflow parse_overflow(const std::string& text);
Pass parse_pass(const std::string& text);
Fault parse_fault(const std::string& text);
std::string to_string(Grouping g);
std::string to_string(Rounding r);
std::string to_string(Overflow o);
std::string to_string(Pass p);
std::string to_string(Fault f);

struct QuantConfig {
  ElemFormat elem;            // e2m4
  ScaleFormat scale;          // e8m1
  Grouping group = Grouping::nc;
  Rounding rounding = Rounding::stochastic;
  uint64_t seed = 0;
  bool clip = false;          // the paper's in-binade mantissa clipping
};

struct ArrayConfig {
  int rows = 16;              // R: chunks reduced per column per tile
  int cols = 16;              // C: output rows m computed side by side
  int acc_bits = 16;          // local accumulator width, [8, 62]
  Overflow acc_overflow = Overflow::saturate;
  int chunk = 16;             // products per local accumulation
  int tree_stages = 0;        // adder-tree pipeline registers; 0 = one per level
  Fault fault = Fault::none;  // test-only fault injection

  int tree_levels() const;    // ceil(log2 rows)
  int effective_tree_stages() const;  // >= 1: the tree's output is registered
  // Latency from an issue to its output write: buffer read, multiply,
  // accumulate, scale, tree stages, output accumulate, final scale.
  int pipeline_depth() const { return 6 + effective_tree_stages(); }
};

struct MlsConfig {
  QuantConfig quant;
  ArrayConfig array;
  void validate() const;      // throws mls::Error naming the bad parameter
};

}  // namespace mls
