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
#include "sim/params/params.h"

namespace mls {

struct LayerSettings {
  PerOperand<QuantConfig> quant;  // the layer's formats
  std::vector<Pass> passes;       // the passes the layer runs (default: --passes)
  bool unquantized = false;       // not simulated: the entry shows its MACs only
};

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
