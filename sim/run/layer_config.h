#pragma once
// --layer-config FILE (docs/formats.md#per-layer-settings): per-layer formats
// and passes, and layers left unquantized. The file (YAML or JSON) maps layer
// names or glob patterns (fnmatch: *, ?, [...]) to settings; every entry
// whose pattern matches a layer applies to it, in file order, as if its keys
// were flags appended to the command line.
#include <map>
#include <string>
#include <vector>

#include "ref/core/config.h"
#include "sim/io/layer_tensors.h"
#include "sim/params/params.h"

namespace mls {

struct LayerSettings {
  PerOperand<QuantConfig> quant;  // the layer's formats
  std::vector<Pass> passes;       // the passes the layer runs (default: --passes)
  bool unquantized = false;       // not simulated: the entry shows its MACs only
  bool group_set = false;         // an entry set a grouping (group, group_w, ...): no default applies
};

// Default groupings when the run gives no grouping (no --group, --group-w/-a/-e,
// nor a preset's): default_grouping (ref/workload/layer_kind.h, kB with B =
// Grouping::kDefaultBlock for linear, matmul and 1x1 convs) on all three
// operands, nc for the others (absent from the map). By layer name.
std::map<std::string, Grouping> default_groupings(const std::vector<LayerTensors>& layers);

// The formats `layer` runs with: its --layer-config settings or the run's,
// with its default grouping (`defaults`) unless its settings set one.
PerOperand<QuantConfig> layer_formats(const std::string& layer, const PerOperand<QuantConfig>& run,
                                      const std::map<std::string, LayerSettings>& settings,
                                      const std::map<std::string, Grouping>& defaults);

// The settings of each of `layers` that some entry matches, by layer name.
// `base` is the run's configuration, `passes` its --passes. Throws mls::Error,
// one line naming the file, the pattern and the key.
std::map<std::string, LayerSettings> load_layer_config(const std::string& path, const std::vector<std::string>& layers,
                                                       const RunConfig& base, const std::vector<Pass>& passes);

// --unquantized LIST (docs/formats.md#unquantized-layers): marks layers
// unquantized in `settings`, adding an entry (the run's formats and passes)
// for a layer that has none. LIST is comma-separated layer names or fnmatch
// patterns, `first` and `last` (the first and last of `layers`, in trace
// order), `classifier` (`classifier`: the last layer when it is a linear
// layer, else none: a trace of the convolutions only has no classifier), or
// `none`. A name, pattern, `first` or `last` matching no layer is an mls::Error.
void mark_unquantized(const std::string& list, const std::vector<std::string>& layers, const std::string& classifier,
                      const RunConfig& base, const std::vector<Pass>& passes,
                      std::map<std::string, LayerSettings>& settings);

// The keys an entry may have: the quantizer's and per-operand format
// parameters, `passes` and `unquantized`.
std::string layer_config_keys();

}  // namespace mls
