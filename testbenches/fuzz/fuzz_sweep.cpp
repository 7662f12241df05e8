// libFuzzer harness: mls::sweep::load_sweep (docs/fuzzing.md). The first input
// byte chooses the file name: 'j' sweep.json (read as JSON), anything else
// sweep.yaml (read as YAML); the rest is the file. Beside it are two valid energy
// tables a `tech` value may name (table.json, table.yaml). A sweep that loads
// has the run command and label of every point built.
#include <cstdint>

#include "fuzz_support.h"
#include "json_mutator.h"
#include "ref/core/error.h"
#include "sim/sweep/sweep.h"

namespace {

void write_tables() {
  mls::fuzz::write_scratch("table.json", std::string(R"({"tech": "t", "unit": "pJ", "energy": {
    "lowbit_mul": 0.2, "fp32_mul": 3.7, "fp32_add": 0.9, "int_acc_add": 0.05, "shift_add_scale": 0.05}})"));
  mls::fuzz::write_scratch("table.yaml", std::string("unit: relative\nenergy:\n  lowbit_mul: 0.5\n"
                                                     "  fp32_mul: 4\n  fp32_add: 1\n  int_acc_add: 0.05\n"
                                                     "  shift_add_scale: 0.05\n  buffer_read: 1\n"
                                                     "  buffer_write: 2\n"));
}

}  // namespace

// JSON sweeps (and YAML ones written in JSON syntax) get structure-aware
// mutations after the mode byte.
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
  static const std::vector<std::string> words = {
      "trace", "passes", "layers", "grid", "points", "name", "description", "rows", "cols", "acc_bits",
      "acc_overflow", "chunk", "tree_stages", "elem", "scale", "group", "rounding", "seed", "clip", "tech",
      "fwd", "bwd-data", "bwd-weight", "fwd,bwd-data", "e2m4", "e0m1", "e4m12", "e8m1", "e8m0", "nc", "n", "c",
      "tensor", "nearest", "stochastic", "saturate", "wrap", "paper-unit", "horowitz-45nm", "mac-65nm",
      "table.yaml", "table.json", "sweep.yaml", "conv1"};
  return mls::fuzz::mutate_json(data, size, max_size, seed, 1, words);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool tables_written = (write_tables(), true);
  (void)tables_written;
  if (size == 0) return 0;
  const std::string name = data[0] == 'j' ? "sweep.json" : "sweep.yaml";
  const std::string path = mls::fuzz::write_scratch(name, data + 1, size - 1);
  try {
    const mls::sweep::Sweep s = mls::sweep::load_sweep(path);
    for (const mls::sweep::Point& p : s.points) {
      mls::sweep::run_command(s, p, "report.json");
      p.label();
    }
    mls::fuzz::loaded(std::to_string(s.points.size()) + " point(s)");
  } catch (const mls::Error& e) {
    mls::fuzz::expected(e);
  }
  return 0;
}
