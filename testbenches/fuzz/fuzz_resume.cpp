// libFuzzer harness: mls::parse_resume_entry, the reader of `run --resume`
// entries (docs/fuzzing.md). The input is the entry file's text, read as the
// entry of layer "c1", pass fwd, on a 16 x 16 array; the first byte chooses
// whether the product count of the layer's shapes is known (4 x 25 x 27).
// Whatever the text, the reader answers an entry or a reason, never throws.
#include <cstdint>
#include <vector>

#include "fuzz_support.h"
#include "json_mutator.h"
#include "ref/core/error.h"
#include "sim/run/resume_entry.h"

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
  static const std::vector<std::string> words = {
      "format", "mlssim-resume-entry/1", "checksum", "entry", "name", "pass", "c1", "fwd", "macs",
      "macs_useful", "cycles", "events", "traffic", "elements", "m", "p", "g", "k", "blocks",
      "acc_bits_needed", "sim_seconds", "mul", "unquantized"};
  return mls::fuzz::mutate_json(data, size, max_size, seed, 1, words);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const nlohmann::json config = {{"rows", 16}, {"cols", 16}};
  const int64_t expected = data[0] & 1 ? 4 * 25 * 27 : -1;
  std::string why;
  const std::optional<nlohmann::json> entry = mls::parse_resume_entry(
      std::string(reinterpret_cast<const char*>(data + 1), size - 1), "c1", mls::Pass::fwd, config, expected, why);
  if (entry) {
    mls::resume_entry_text(*entry);
    mls::fuzz::loaded("an entry of " + std::to_string((*entry)["macs"].get<uint64_t>()) + " MACs");
  } else {
    mls::fuzz::expected(mls::Error(why));
  }
  return 0;
}
