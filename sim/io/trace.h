#pragma once
// Training traces (docs/reference.md#trace-format): a directory with manifest.json and .npy tensors.
// Loading is strict: any inconsistency is an mls::Error naming the layer and
// file, raised before anything is simulated or written.
#include <string>
#include <vector>

#include "sim/run/layer.h"

namespace mls {

struct Trace {
  std::string dir;
  std::string model;
  std::vector<LayerTensors> layers;
};

// Loads the layers named in `only` (all when empty; an unknown name is an error).
Trace load_trace(const std::string& dir, const std::vector<std::string>& only = {});

}  // namespace mls
