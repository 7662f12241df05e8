// libFuzzer harness: mls::synth::read_topology, the reader of `mlssim synth`'s
// topologies (docs/fuzzing.md, docs/scale.md#topologies). The first input byte
// chooses the file name: 'j' topo.json (strict JSON first, then read as YAML),
// 'c' topo.csv (a SCALE-Sim topology), anything else topo.yaml; the rest is the
// file. A topology that reads has every layer's shapes made at two batches (the
// geometry checks of the layer kinds); no tensor is drawn.
#include <cstdint>

#include "fuzz_support.h"
#include "json_mutator.h"
#include "ref/core/error.h"
#include "sim/synth/topology.h"

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
  static const std::vector<std::string> words = {
      "model", "layers", "notes", "source", "name", "kind", "weight", "input", "grad_output", "stride",
      "padding", "dilation", "groups", "input_dist", "conv2d", "linear", "matmul", "relu", "normal", "fc"};
  return mls::fuzz::mutate_json(data, size, max_size, seed, 1, words);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string name = data[0] == 'j' ? "topo.json" : data[0] == 'c' ? "topo.csv" : "topo.yaml";
  const std::string path = mls::fuzz::write_scratch(name, data + 1, size - 1);
  try {
    const mls::synth::Topology topo = mls::synth::read_topology(path);
    for (const mls::synth::TopoLayer& layer : topo.layers)
      for (int64_t batch : {1, 3}) mls::synth::layer_shapes(layer, batch);
    mls::fuzz::loaded(std::to_string(topo.layers.size()) + " layer(s) of " + topo.model);
  } catch (const mls::Error& e) {
    mls::fuzz::expected(e);
  }
  return 0;
}
