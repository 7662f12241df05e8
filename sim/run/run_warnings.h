#pragma once
// The warnings a run prints on stderr once it has succeeded, from its report.
#include <nlohmann/json.hpp>
#include <string>

namespace mls {

// The one summary line a run whose local accumulators overflowed prints on
// stderr once it has succeeded: the overflow rate (acc_overflow / acc_add) and
// the narrowest --acc-bits that would have none (total.acc_bits_needed); ""
// when nothing overflowed.
std::string acc_overflow_warning(const nlohmann::json& report);
// One line naming the layers with a layer-pass of k = 1, whose grouping puts
// one group-scale pair on every product (nc on a linear layer, say); "" when
// none has (docs/layers.md#default-groupings).
std::string one_scale_per_product_warning(const nlohmann::json& report);

}  // namespace mls
