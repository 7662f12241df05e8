#pragma once
// Network topologies for `mlssim synth` (docs/scale.md#topologies): a network
// given by its layers' shapes only. Two forms:
//   - a SCALE-Sim convolution topology CSV (file name ending in .csv): one conv2d
//     per row, no padding, no groups, the batch from --batch;
//   - a JSON (or YAML) document {"model": ..., "layers": [...]} whose layers are
//     trace-manifest entries with shapes in place of file names.
// Reading is strict: every error is one line "<file>:<line>:<column>: ...".
#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ref/core/tensor.h"
#include "ref/workload/layer_kind.h"

namespace mls::synth {

// How a layer's input activation is drawn (docs/scale.md#distributions).
enum class InputDist { relu, normal };

struct TopoLayer {
  std::string name;
  std::string kind = kDefaultLayerKind;  // a kind with SynthRules (ref/workload/layer_kind.h)
  Shape weight;                 // as the trace holds it; matmul: without the batch
  Shape input;                  // without the batch dimension
  std::array<int, 2> stride{1, 1}, padding{0, 0}, dilation{1, 1};
  int groups = 1;
  bool grad_output = true;  // false: a forward-only layer
  InputDist input_dist = InputDist::relu;
  std::string where;  // "<file>:<line>:<column>" of the layer, for later errors
};

struct Topology {
  std::string model;
  std::vector<TopoLayer> layers;
};

// The synth rules of a registered kind; null when it has none or is unknown.
const SynthRules* synth_rules_of(const std::string& kind);

// The layer's parameters as its manifest entry holds them: the keys its kind
// reads (ref/workload/layer_kind.h), none for a kind without parameters.
nlohmann::json manifest_params(const TopoLayer& layer);

// Reads and checks a topology; mls::Error on any fault.
Topology read_topology(const std::string& path);

// The layer's tensor shapes for a batch of `batch`: weight, input and
// grad_output (the layer's output shape), checked against the layer kind's
// own geometry rules (an mls::Error starting with layer.where).
struct LayerShapes {
  Shape weight, input, grad_output;
};
LayerShapes layer_shapes(const TopoLayer& layer, int64_t batch);

}  // namespace mls::synth
