#include "sim/run/report.h"

#include <algorithm>
#include <map>

#include "hw_model/stats/gauges.h"
#include "hw_model/stats/traffic.h"
#include "hw_model/stats/vector_work.h"
#include "ref/core/error.h"
#include "sim/params/params.h"

namespace mls {

using nlohmann::json;

// The report-bound parameters of the table, then what they imply.
// Each operand's formats: the multiplier and scaler of a pass take its two.
json operand_formats_json(const PerOperand<QuantConfig>& quant) {
  json out = json::object();
  for (Operand o : {Operand::weight, Operand::input, Operand::grad_output})
    out[to_string(o)] = {{"elem", quant[o].elem.name()}, {"scale", quant[o].scale.name()},
                         {"group", to_string(quant[o].group)}};
  return out;
}

json config_json(const MlsConfig& c) {
  RunConfig run;
  run.mls = c;
  json out = json::object();
  for (const params::Param& p : params::table())
    if (p.use & params::kReport) out[p.name] = p.report ? p.report(run) : p.get(run);
  // Not a parameter: the issue-to-write latency the stages give, which the
  // measured events.pipeline_depth must equal (docs/reference.md#the-modelled-array).
  out["pipeline_depth"] = c.array.pipeline_depth();
  out["operands"] = operand_formats_json(c.quant);
  return out;
}

json events_json(const Stats& s, const ArrayConfig& a) {
  json e = counters_json(s);
  e["utilization"] = s.utilization(a.rows, a.cols);
  return e;
}

namespace {

// An entry's counters back into the structs they were written from
// (events_json, traffic_json), so the total is summed exactly as the
// simulation's own structs add.
Stats stats_of(const json& entry) {
  Stats s;
  const json& events = entry.at("events");
  for (const StatInfo& info : kStatTable) s.*info.counter = events.at(info.key).get<uint64_t>();
  return s;
}

hw::Traffic traffic_of(const json& entry) {
  hw::Traffic t;
  const json& traffic = entry.at("traffic");
  for (const hw::TrafficInfo& info : hw::kTrafficTable)
    t.*info.field = (info.bytes ? traffic : traffic.at("elements")).at(info.key).get<uint64_t>();
  return t;
}

// Adds an entry's events and traffic to the totals, each sum checked.
void add_counts(Stats& total, hw::Traffic& traffic, const json& entry, const std::string& of) {
  const Stats s = stats_of(entry);
  for (const StatInfo& info : kStatTable)
    total.*info.counter = checked_add(total.*info.counter, s.*info.counter, std::string(info.key) + of);
  const hw::Traffic t = traffic_of(entry);
  for (const hw::TrafficInfo& info : hw::kTrafficTable)
    traffic.*info.field = checked_add(traffic.*info.field, t.*info.field, std::string(info.key) + of);
}

// An entry's vector work ("vector"; none in a report from before it).
hw::VectorWork vector_of(const json& entry) {
  hw::VectorWork v;
  if (!entry.contains("vector")) return v;
  for (const hw::VectorInfo& info : hw::kVectorTable) v.*info.field = entry.at("vector").at(info.key).get<uint64_t>();
  return v;
}

void add_vector(hw::VectorWork& total, const json& entry, const std::string& of) {
  const hw::VectorWork v = vector_of(entry);
  for (const hw::VectorInfo& info : hw::kVectorTable)
    total.*info.field = checked_add(total.*info.field, v.*info.field, std::string(info.key) + of);
}

}  // namespace

bool is_timing_field(const std::string& key) {
  return key == "sim_seconds" || key == "sim_macs_per_second" || key == "golden_seconds";
}

json assemble_report(const json& config, const json& trace, json layers, bool check, bool layer_settings) {
  ArrayConfig array;
  array.rows = config.at("rows").get<int>();
  array.cols = config.at("cols").get<int>();
  Stats total;
  hw::Traffic traffic;
  double sim_seconds = 0;
  int64_t macs = 0, useful = 0, unquantized_macs = 0;
  Gauges gauges;
  hw::VectorWork vector;
  bool all_bit_exact = true;
  for (const json& e : layers) {
    const std::string of = " (adding " + string_field(e, "name", "?") + " " + string_field(e, "pass", "?") + ")";
    add_vector(vector, e, of);
    if (e.value("unquantized", false)) {
      unquantized_macs = checked_add(unquantized_macs, e.at("macs").get<int64_t>(), "macs_unquantized" + of);
      continue;
    }
    add_counts(total, traffic, e, of);
    gauges.merge(gauges_of(e));
    sim_seconds += e.at("sim_seconds").get<double>();
    macs = checked_add(macs, e.at("macs").get<int64_t>(), "macs" + of);
    useful = checked_add(useful, e.at("macs_useful").get<int64_t>(), "macs_useful" + of);
    if (e.contains("bit_exact") && e["bit_exact"].is_boolean()) all_bit_exact = all_bit_exact && e["bit_exact"].get<bool>();
  }
  const double rate = sim_seconds > 0 ? double(macs) / sim_seconds : 0.0;
  json report = {{"config", config},
                 {"stats_info", stats_info_json()},
                 {"trace", trace},
                 {"layers", std::move(layers)},
                 {"total",
                  {{"cycles", total.cycles}, {"macs", macs}, {"macs_useful", useful},
                   {"events", events_json(total, array)},
                   {"stats", stats_tree_json(total)},
                   {"stall_cycles", total.stall_cycles},
                   {"traffic", hw::traffic_json(traffic)},
                   {"utilization", total.utilization(array.rows, array.cols)},
                   {"sim_seconds", sim_seconds}, {"sim_macs_per_second", rate}}}};
  add_gauges_json(report["total"], gauges);
  report["total"]["vector"] = hw::vector_json(vector);
  report["stats_info"]["vector"] = hw::vector_info_json();
  if (check) report["total"]["bit_exact"] = all_bit_exact;
  if (layer_settings) report["total"]["macs_unquantized"] = unquantized_macs;
  return report;
}

namespace {

// The first key of a run identity in which two partials differ, said plainly.
std::string identity_difference(const json& a, const json& b) {
  const std::vector<std::pair<std::string, std::string>> keys = {
      {"trace_fingerprint", "trace"},  {"config", "config"},       {"check", "--check"},
      {"accuracy", "--accuracy"},      {"layer_config", "--layer-config"}, {"plan", "layers or passes"}};
  for (const auto& [key, what] : keys)
    if (!a.contains(key) || !b.contains(key) || a[key] != b[key]) return "another " + what;
  return "another run";
}

const json& shard_of(const json& partial, const std::string& name) {
  if (!partial.is_object() || !partial.contains("shard") || !partial["shard"].is_object() ||
      !partial["shard"].contains("run") || !partial["shard"].contains("index") || !partial["shard"].contains("count") ||
      !partial.contains("layers") || !partial["layers"].is_array())
    throw Error(name + ": not a partial report of run --shard (no 'shard' and 'layers')");
  return partial["shard"];
}

// A shard's index or count as written: a positive integer, shown as it is.
uint64_t shard_number(const json& shard, const char* key, const std::string& name) {
  const json& v = shard[key];
  if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 1) || v.get<uint64_t>() < 1)
    throw Error(name + ": shard " + key + " " + v.dump() + " is not a positive integer");
  return v.get<uint64_t>();
}

// A partial report's shard index in [1, count].
void check_partial_shard(const json& partial, const std::string& name) {
  const json& shard = shard_of(partial, name);
  const uint64_t index = shard_number(shard, "index", name), count = shard_number(shard, "count", name);
  if (index > count)
    throw Error(name + ": shard " + std::to_string(index) + "/" + std::to_string(count) + " is past its count");
}

// A partial report as `run --shard` wrote it: its checksum matching its
// layers, every entry's counts whole and consistent.
void check_partial_content(const json& partial, const std::string& name) {
  if (!partial.contains("config") || !partial["config"].is_object())
    throw Error(name + ": not a run report (no 'config')");
  for (const json& e : partial["layers"])
    check_entry_counts(e, partial["config"],
                       name + ": layer-pass '" + string_field(e, "name", "?") + " " + string_field(e, "pass", "?") + "'");
  const json& shard = partial["shard"];
  if (!shard.contains("checksum") || shard["checksum"] != content_checksum(partial["layers"]))
    throw Error(name + ": its layers do not match the checksum run --shard wrote (edited or damaged?); "
                "run the shard again");
}

std::string shard_str(uint64_t index, uint64_t count) { return std::to_string(index) + "/" + std::to_string(count); }

}  // namespace

void seal_partial(json& partial) { partial["shard"]["checksum"] = content_checksum(partial.at("layers")); }

namespace {

json merge_checked(const std::vector<json>& partials, const std::vector<std::string>& names) {
  if (partials.empty()) throw Error("no partial report given");
  for (size_t i = 0; i < partials.size(); ++i) check_partial_shard(partials[i], names[i]);
  const json& run = shard_of(partials[0], names[0]).at("run");
  const uint64_t count = partials[0]["shard"]["count"].get<uint64_t>();
  std::map<uint64_t, std::string> index_file;
  std::map<std::string, std::pair<const json*, std::string>> found;  // key -> entry, file
  for (size_t i = 0; i < partials.size(); ++i) {
    const json& shard = shard_of(partials[i], names[i]);
    if (shard.at("run") != run)
      throw Error(names[i] + ": from " + identity_difference(run, shard.at("run")) + " than " + names[0]);
    const uint64_t index = shard["index"].get<uint64_t>(), own_count = shard["count"].get<uint64_t>();
    if (own_count != count)
      throw Error(names[i] + ": shard " + shard_str(index, own_count) + " of another split than " + names[0] +
                  " (of " + std::to_string(count) + ")");
    if (!index_file.emplace(index, names[i]).second)
      throw Error(names[i] + " and " + index_file[index] + " are both shard " + shard_str(index, count));
    for (const json& e : partials[i]["layers"]) {
      const std::string key = string_field(e, "name", "?") + " " + string_field(e, "pass", "?");
      if (!found.emplace(key, std::make_pair(&e, names[i])).second)
        throw Error(names[i] + ": layer-pass '" + key + "' is also in " + found[key].second);
    }
  }
  json layers = json::array();
  std::vector<std::string> missing;
  for (const json& k : run.at("plan")) {
    const auto it = found.find(k.get<std::string>());
    if (it == found.end()) {
      missing.push_back(k.get<std::string>());
      continue;
    }
    layers.push_back(*it->second.first);
    found.erase(it);
  }
  if (!found.empty())
    throw Error(found.begin()->second.second + ": layer-pass '" + found.begin()->first + "' is not in the run's plan");
  if (!missing.empty()) {
    std::string shards;
    // The first few shards not given (a count can be huge).
    size_t listed = 0;
    for (uint64_t i = 1; i <= count && listed < 8; ++i)
      if (!index_file.count(i)) shards += (listed++ ? ", " : "") + shard_str(i, count);
    if (count - index_file.size() > listed) shards += ", ...";
    throw Error(std::to_string(missing.size()) + " layer-pass(es) of the run are in no partial report (e.g. '" +
                missing[0] + "')" + (shards.empty() ? "" : "; shards not given: " + shards));
  }
  // Which layer-passes the parts hold is checked above; now what they say.
  for (size_t i = 0; i < partials.size(); ++i) check_partial_content(partials[i], names[i]);
  const json& first = partials[0];
  return assemble_report(first.at("config"), first.at("trace"), std::move(layers), run.at("check").get<bool>(),
                         run.at("layer_config").get<std::string>() != "0000000000000000" ||
                             !run.value("unquantized", json::array()).empty());
}

}  // namespace

json merge_partials(const std::vector<json>& partials, const std::vector<std::string>& names) {
  try {
    return merge_checked(partials, names);
  } catch (const json::exception& e) {  // a key of the wrong type: still a user's file
    throw Error("a partial report is not a run report (" + one_line(e.what()) + ")");
  }
}

namespace {

std::string json_text_line(const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); }

// Layer entries of a report by "name pass"; a stored report that is not a run
// report is a user error naming the problem, never a JSON exception.
std::map<std::string, const json*> entries_by_key(const json& report, const std::string& which) {
  if (!report.is_object() || !report.contains("layers") || !report["layers"].is_array())
    throw Error(which + " is not a run report (no 'layers' list)");
  std::map<std::string, const json*> out;
  for (const json& l : report["layers"]) {
    if (!l.is_object() || !l.contains("events") || !l["events"].is_object())
      throw Error(which + " is not a run report (a layer entry has no 'events' object)");
    out[string_field(l, "name", "?") + " " + string_field(l, "pass", "?")] = &l;
  }
  return out;
}

}  // namespace

std::vector<std::string> compare_reports(const json& expected, const json& actual) {
  std::vector<std::string> diffs;
  const auto want = entries_by_key(expected, "the stored report"), got = entries_by_key(actual, "this run's report");
  for (const auto& [key, w] : want) {
    const auto it = got.find(key);
    if (it == got.end()) {
      diffs.push_back(key + ": missing from this run");
      continue;
    }
    // The events, and the vector work and groupings when the stored report has them.
    for (const char* block : {"events", "vector", "groups"}) {
      if (!w->contains(block) || !w->at(block).is_object()) continue;
      const json& we = w->at(block);
      const json ge = it->second->value(block, json::object());
      const std::string prefix = std::string(block) == "events" ? "" : std::string(block) + ".";
      for (const auto& item : we.items()) {
        if (item.key() == "utilization") continue;  // derived from cycles and mul
        if (!ge.contains(item.key()) || ge[item.key()] != item.value())
          diffs.push_back(key + ": " + prefix + item.key() + " " + json_text_line(item.value()) + " -> " +
                          (ge.contains(item.key()) ? json_text_line(ge[item.key()]) : "missing"));
      }
    }
  }
  for (const auto& [key, g] : got)
    if (!want.count(key)) diffs.push_back(key + ": not in the stored report");
  return diffs;
}

}  // namespace mls
