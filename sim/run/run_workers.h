#pragma once
// run -j N: the run's layer-passes in N worker processes (`mlssim run
// --shard I/N --claims DIR --trace-checked FILE`), their progress lines
// forwarded as one run's, their partial reports merged (docs/scale.md).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/io/trace.h"
#include "sim/run/plan.h"

namespace mls {

// Runs shard i/N of the run in worker i for i = 1..min(jobs, layer-passes),
// each `mlssim run` with `worker_args` and its shard's flags, and returns the
// merged report. A worker that fails stops the others; its last stderr line
// is the error.
nlohmann::json run_in_workers(int jobs, const std::vector<std::string>& worker_args, const Trace& trace,
                              const std::vector<PlannedPass>& planned);

}  // namespace mls
