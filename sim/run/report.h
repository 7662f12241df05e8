#pragma once
// The run report (docs/reference.md#commands): config, one entry per layer and pass, and totals.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hw_model/stats/stats.h"
#include "ref/core/config.h"
#include "sim/io/json_file.h"

namespace mls {

nlohmann::json config_json(const MlsConfig& cfg);
// All report event keys (docs/reference.md#events): the counters and utilization.
nlohmann::json events_json(const Stats& s, const ArrayConfig& a);

// A run report from its layer-pass entries: `config`, `stats_info`, `trace`
// (`dir`, `model`), `layers` as given, and `total` computed from the entries
// alone (counts summed, `acc_bits_needed` the largest, utilization and rate
// from the sums; `bit_exact` with `check`, `macs_unquantized` with
// `layer_settings`). `run`, `merge` and `run -j` all build their report here,
// so a merged report equals a whole run's apart from the timing fields.
// `config` is config_json's (its rows and cols give the utilization).
nlohmann::json assemble_report(const nlohmann::json& config, const nlohmann::json& trace, nlohmann::json layers,
                               bool check, bool layer_settings);

// `mlssim merge` and `run -j`: the report of a whole run from the partial
// reports of its shards (`run --shard I/N`, docs/scale.md). They must come from
// one run (the same `shard.run` identity: config, trace fingerprint, flags,
// plan) and hold every layer-pass of its plan exactly once; otherwise an
// mls::Error naming the file(s) at fault. `names[i]` names partials[i].
nlohmann::json merge_partials(const std::vector<nlohmann::json>& partials, const std::vector<std::string>& names);

// a + b, or mls::Error "the total <what> overflows ..." when the sum leaves
// the type: every total of counts is summed through these.
uint64_t checked_add(uint64_t a, uint64_t b, const std::string& what);
int64_t checked_add(int64_t a, int64_t b, const std::string& what);

// A layer-pass entry read back from a file (a --resume entry, a shard's
// partial report): mls::Error "<where>: ..." unless every count is a
// non-negative integer in range and the counts agree with each other and the
// entry's shape: macs = m x p x g x k (a single block), events.mul = macs,
// events.cycles = cycles, cycles x rows x cols >= macs (`config` gives rows
// and cols), macs_useful <= macs.
void check_entry_counts(const nlohmann::json& entry, const nlohmann::json& config, const std::string& where);

// 16 hex digits of a 64-bit FNV-1a hash of `content`'s JSON text: the checksum
// stored beside an entry, a partial report's layers or a sweep point record,
// so a hand edit that keeps the file well-formed is still found.
std::string content_checksum(const nlohmann::json& content);

// Stores the checksum of a partial report's layers in its "shard" object
// (run --shard, before writing it); merge_partials refuses a partial whose
// layers no longer match it.
void seal_partial(nlohmann::json& partial);

// The timing fields (not reproducible): sim_seconds, sim_macs_per_second and
// golden_seconds, in the entries and the total.
bool is_timing_field(const std::string& key);

// Differences in cycles and event counts (and, where the stored report has
// them, vector work and groupings) per (layer, pass) between a stored
// report and a new one, one readable line each; empty when they agree.
std::vector<std::string> compare_reports(const nlohmann::json& expected, const nlohmann::json& actual);

}  // namespace mls
