#pragma once
// One finished layer-pass of `run --resume DIR`, as its file holds it:
// {"format": "mlssim-resume-entry/1", "checksum": "<16 hex>", "entry": {...}}
// with the layer-pass's report entry and the checksum of its content
// (content_checksum). Read back, an entry is used only when it is whole; any
// other file is computed again (docs/scale.md#resume).
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "ref/core/config.h"

namespace mls {

// The file text of `entry`, a report entry with "name" and "pass".
std::string resume_entry_text(const nlohmann::json& entry);

// The entry a resume file's `text` holds, when it parses, names `layer` and
// `pass`, matches its checksum and passes check_entry_counts against `config`
// (the run's config_json), and, when `expected_macs` >= 0, its macs are at
// least that (the product count the layer's shapes give; a block grouping
// pads the reduction to whole groups, so the lowered count may be more). Otherwise std::nullopt, and
// `why` says what is wrong in a few words.
std::optional<nlohmann::json> parse_resume_entry(const std::string& text, const std::string& layer, Pass pass,
                                                 const nlohmann::json& config, int64_t expected_macs,
                                                 std::string& why);

}  // namespace mls
