// libFuzzer harness: mls::merge_partials, the reader of `mlssim merge` parts and
// of `run -j`'s workers' reports (docs/fuzzing.md). The input is one JSON
// document: an array of partial reports (each a part), or one partial report.
// Parts that merge have their report assembled and written as text.
#include <cstdint>
#include <vector>

#include "fuzz_support.h"
#include "json_mutator.h"
#include "ref/core/error.h"
#include "sim/io/json_file.h"
#include "sim/run/report.h"

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
  static const std::vector<std::string> words = {
      "shard", "index", "count", "run", "checksum", "layers", "config", "trace", "plan", "check", "accuracy",
      "layer_config", "unquantized", "trace_fingerprint", "name", "pass", "macs", "macs_useful", "cycles",
      "events", "traffic", "elements", "m", "p", "g", "k", "blocks", "acc_bits_needed", "sim_seconds", "mul",
      "rows", "cols", "fwd", "bwd-data", "bwd-weight", "bit_exact", "0000000000000000"};
  return mls::fuzz::mutate_json(data, size, max_size, seed, 0, words);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const nlohmann::json doc =
        mls::parse_json_text<nlohmann::json>(std::string(reinterpret_cast<const char*>(data), size), "parts.json");
    std::vector<nlohmann::json> parts;
    if (doc.is_array() && !doc.empty())
      parts.assign(doc.begin(), doc.end());
    else
      parts.push_back(doc);
    std::vector<std::string> names;
    for (size_t i = 0; i < parts.size(); ++i) names.push_back("part" + std::to_string(i + 1) + ".json");
    const nlohmann::json report = mls::merge_partials(parts, names);
    mls::json_text(report);
    mls::fuzz::loaded(std::to_string(report["layers"].size()) + " layer-pass(es)");
  } catch (const mls::Error& e) {
    mls::fuzz::expected(e);
  }
  return 0;
}
