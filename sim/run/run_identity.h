#pragma once
#include <nlohmann/json.hpp>

#include "sim/io/trace.h"
#include "sim/run/run_options.h"

namespace mls {

// What partial reports and --resume entries must share to be combined: the
// config, a fingerprint of the trace (the manifest and every tensor's bits),
// the --check and --accuracy switches, the layer-config hash and the plan.
nlohmann::json run_identity(const Trace& trace, const RunOptions& opt);

}  // namespace mls
