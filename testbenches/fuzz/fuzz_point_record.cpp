// libFuzzer harness: mls::sweep::record_problem, the check a sweep makes of a
// point record it finds in RESULTS_DIR/points before it trusts it
// (docs/fuzzing.md). The input is the record's text, checked against point 0
// of a fixed two-point sweep; a record that passes goes into the result tables
// (results.csv and results.json) as `sweep --merge` would put it.
#include <cstdint>
#include <vector>

#include "fuzz_support.h"
#include "json_mutator.h"
#include "ref/core/error.h"
#include "sim/io/json_file.h"
#include "sim/sweep/sweep.h"

namespace {

const mls::sweep::Sweep& fixed_sweep() {
  static const mls::sweep::Sweep s = mls::sweep::load_sweep(mls::fuzz::write_scratch(
      "sweep.yaml", std::string("trace: t\npasses: [fwd]\ngrid:\n  elem: [e2m4, e3m4]\n")));
  return s;
}

}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
  static const std::vector<std::string> words = {
      "format", "mlssim-sweep-point/1", "id", "index", "sweep", "params", "metrics", "layers", "config",
      "wall_seconds", "checksum", "macs", "mul", "cycles", "rows", "cols", "elem", "e2m4", "utilization",
      "cycles_fwd", "energy_mls"};
  return mls::fuzz::mutate_json(data, size, max_size, seed, 0, words);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const mls::sweep::Sweep& s = fixed_sweep();
  try {
    const mls::sweep::ojson record = mls::parse_json_text<mls::sweep::ojson>(
        std::string(reinterpret_cast<const char*>(data), size), "points/x.json");
    const std::string problem = mls::sweep::record_problem(record, s.points[0]);
    if (!problem.empty()) throw mls::Error(problem);
    mls::sweep::results_csv(s, {record});
    mls::json_text(mls::sweep::results_json(s, {record}));
    mls::fuzz::loaded("a finished record");
  } catch (const mls::Error& e) {
    mls::fuzz::expected(e);
  }
  return 0;
}
