#include "sim/run/run_identity.h"

#include "ref/core/rng.h"
#include "ref/io/file_io.h"
#include "sim/run/plan.h"
#include "sim/run/report.h"

namespace mls {

using nlohmann::json;

json run_identity(const Trace& trace, const RunOptions& opt) {
  uint64_t h = fnv1a64(read_input_file(trace.dir + "/manifest.json", "manifest", kMaxTextFileBytes));
  // load_trace took each layer's fingerprint as it read the tensors.
  for (const LayerTensors& t : trace.layers) h = splitmix64_mix(fnv1a64(t.name, h) ^ t.fingerprint);
  json plan = json::array();
  for (const PlannedPass& pp : plan_run(trace, opt)) plan.push_back(pp.key());
  // --unquantized (and a preset's) marks layers beside the layer-config file.
  json unquantized = json::array();
  for (const auto& [name, s] : opt.layer_settings)
    if (s.unquantized) unquantized.push_back(name);
  return {{"config", config_json(opt.cfg)}, {"trace_fingerprint", hex64(h)}, {"check", opt.check},
          {"accuracy", opt.accuracy}, {"layer_config", hex64(opt.layer_config_hash)}, {"unquantized", unquantized},
          {"plan", plan}};
}

}  // namespace mls
