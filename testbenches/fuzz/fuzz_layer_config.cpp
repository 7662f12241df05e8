// libFuzzer harness: mls::load_layer_config, the reader of `run --layer-config`
// (docs/fuzzing.md, docs/formats.md#per-layer-settings). The first input byte
// chooses the file name: 'j' layers.json, anything else layers.yaml; the rest is
// the file. It is applied to a fixed list of layer names (conv, linear and
// transformer-style names, so globs have something to match) with the default
// configuration and all three passes; a file that loads also has `--unquantized
// first,classifier` marked on top, as `run` does.
#include <cstdint>

#include "fuzz_support.h"
#include "json_mutator.h"
#include "ref/core/error.h"
#include "sim/run/layer_config.h"

namespace {

const std::vector<std::string> kLayers = {"conv1", "layer1.0.conv1", "layer1.0.conv2", "layer2.0.downsample.0",
                                          "attn.qkv", "attn.q_kt", "mlp.fc1", "fc"};

}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
  static const std::vector<std::string> words = {
      "elem", "scale", "group", "rounding", "seed", "clip", "elem_w", "elem_a", "elem_e", "scale_w", "group_e",
      "passes", "unquantized", "fwd", "bwd-data", "bwd-weight", "e2m4", "e4m3", "e8m1", "nc", "tensor",
      "nearest", "stochastic", "conv*", "layer1.*", "*.conv[12]", "fc", "[!c]*", "*"};
  return mls::fuzz::mutate_json(data, size, max_size, seed, 1, words);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string path = mls::fuzz::write_scratch(data[0] == 'j' ? "layers.json" : "layers.yaml", data + 1, size - 1);
  const mls::RunConfig base;
  const std::vector<mls::Pass> passes = {mls::Pass::fwd, mls::Pass::bwd_data, mls::Pass::bwd_weight};
  try {
    std::map<std::string, mls::LayerSettings> settings = mls::load_layer_config(path, kLayers, base, passes);
    mls::mark_unquantized("first,classifier", kLayers, "fc", base, passes, settings);
    mls::fuzz::loaded(std::to_string(settings.size()) + " layer(s) configured");
  } catch (const mls::Error& e) {
    mls::fuzz::expected(e);
  }
  return 0;
}
