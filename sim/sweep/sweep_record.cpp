// Point records and result tables (docs/sweep.md#results): what a finished
// point's run report becomes, and the CSV and JSON gathered from the records.
#include <cmath>
#include <map>
#include <set>

#include "hw_model/stats/stats.h"
#include "ref/core/error.h"
#include "ref/core/excerpt.h"
#include "ref/core/rng.h"
#include "sim/energy/energy.h"
#include "sim/params/params.h"
#include "sim/sweep/sweep.h"

namespace mls::sweep {

// ---------------------------------------------------------------------------
// Point records.

namespace {

const char* kPointFormat = "mlssim-sweep-point/1";
const char* kResultsFormat = "mlssim-sweep-results/1";
const std::vector<std::string> kPassOrder = {"fwd", "bwd-data", "bwd-weight"};

std::string column_suffix(const std::string& pass) {
  std::string s = pass;
  for (char& c : s)
    if (c == '-') c = '_';
  return s;
}

ojson rate(double num, double den) { return den > 0 ? ojson(num / den) : ojson(nullptr); }

ojson mean(const std::vector<double>& v) {
  if (v.empty()) return nullptr;
  double sum = 0;
  for (double x : v) sum += x;
  return sum / double(v.size());
}

uint64_t event(const nlohmann::json& entry, const char* key) {
  return entry.at("events").value(key, uint64_t{0});
}

// CSV column names are unique: an event named like a parameter (`scale`, the
// group-scaler operations, against `scale`, the scale format) gets "_events".
std::string metric_name(const std::string& event) {
  const params::Param* p = params::find(event);
  return p && (p->use & params::kSweep) ? event + "_events" : event;
}

void add_event_metrics(ojson& m, const nlohmann::json& total) {
  const nlohmann::json& events = total.at("events");
  m["macs"] = total.value("macs", int64_t{0});
  // The registry's counters in its order; any other counter in the report
  // (one a later model adds) is appended after them.
  for (const StatInfo& info : kStatTable) m[metric_name(info.key)] = events.value(info.key, uint64_t{0});
  for (const auto& item : events.items())
    if (item.key() != "utilization" && !m.contains(metric_name(item.key()))) m[metric_name(item.key())] = item.value();
  m["utilization"] = total.value("utilization", 0.0);
  m["acc_overflow_rate"] = rate(double(event(total, "acc_overflow")), double(event(total, "acc_add")));
}

// The run's traffic (hw_model/stats/traffic.h): the byte counts as they are,
// DRAM reads and writes summed, and the element counts with "_elements".
void add_traffic_metrics(ojson& m, const nlohmann::json& total) {
  if (!total.contains("traffic") || !total["traffic"].is_object()) return;
  const nlohmann::json& t = total["traffic"];
  for (const auto& item : t.items())
    if (item.key() != "elements") m[item.key()] = item.value();
  m["dram_bytes"] = t.value("dram_read_bytes", uint64_t{0}) + t.value("dram_write_bytes", uint64_t{0});
  if (t.contains("elements") && t["elements"].is_object())
    for (const auto& item : t["elements"].items()) m[item.key() + "_elements"] = item.value();
}

// Per pass: cycles, utilization, overflow rate, and the mean over layers of the
// error against the fp32 conv of the unquantized tensors.
void add_pass_metrics(ojson& m, const nlohmann::json& layers, int rows, int cols) {
  for (const std::string& pass : kPassOrder) {
    uint64_t cycles = 0, mul = 0, acc_add = 0, overflow = 0;
    std::vector<double> errors;
    bool present = false;
    for (const nlohmann::json& e : layers) {
      if (e.value("pass", "") != pass) continue;
      present = true;
      cycles += e.value("cycles", uint64_t{0});
      mul += event(e, "mul");
      acc_add += event(e, "acc_add");
      overflow += event(e, "acc_overflow");
      if (e.contains("rel_error_fp32") && e["rel_error_fp32"].is_number())
        errors.push_back(e["rel_error_fp32"].get<double>());
    }
    if (!present) continue;
    const std::string sfx = column_suffix(pass);
    m["cycles_" + sfx] = cycles;
    m["utilization_" + sfx] = rate(double(mul), double(cycles) * rows * cols);
    m["acc_overflow_rate_" + sfx] = rate(double(overflow), double(acc_add));
    m["rel_error_" + sfx] = mean(errors);
  }
}

// The mean over passes of the per-pass errors (one number for "output error"),
// and the ARE of W, A and E averaged over layers (each layer counted once).
void add_accuracy_metrics(ojson& m, const nlohmann::json& layers) {
  std::vector<double> pass_errors;
  for (const std::string& pass : kPassOrder) {
    const std::string key = "rel_error_" + column_suffix(pass);
    if (m.contains(key) && m[key].is_number()) pass_errors.push_back(m[key].get<double>());
  }
  m["rel_error_mean"] = mean(pass_errors);
  std::map<std::string, std::vector<double>> are;
  std::set<std::string> seen;
  for (const nlohmann::json& e : layers) {
    if (!e.contains("are") || !seen.insert(e.value("name", "")).second) continue;
    for (const auto& item : e["are"].items())
      if (item.value().is_number()) are[item.key()].push_back(item.value().get<double>());
  }
  for (const char* tensor : {"weight", "input", "grad_output"}) m[std::string("are_") + tensor] = mean(are[tensor]);
}

ojson energy_value(const nlohmann::json& holder, const std::string& key) {
  return holder.is_object() && holder.contains(key) ? ojson(holder[key]) : ojson(nullptr);
}

ojson per_mac(const ojson& energy, uint64_t macs) {
  return energy.is_number() && macs > 0 ? ojson(energy.get<double>() / double(macs)) : ojson(nullptr);
}

// Per design of the energy model (kDesigns; columns spell fp8-fp16acc as
// fp8_fp16acc): arithmetic, memory, total (arithmetic + memory), each per MAC
// too, and the baselines' ratios to MLS; null where the table does not price it.
void add_energy_metrics(ojson& m, const nlohmann::json& total) {
  const nlohmann::json& e = total["energy"];
  const uint64_t macs = event(total, "mul");
  m["energy_unit"] = e.value("unit", "");
  m["energy_gating"] = e.value("gating", false);
  for (const std::string design : kDesigns) {
    const std::string col = column_suffix(design);
    m["energy_" + col] = energy_value(e, design);
    m["energy_memory_" + col] = energy_value(e["memory"], design);
    m["energy_total_" + col] = energy_value(e["total"], design);
    m["energy_" + col + "_per_mac"] = per_mac(m["energy_" + col], macs);
    m["energy_total_" + col + "_per_mac"] = per_mac(m["energy_total_" + col], macs);
  }
  for (const std::string design : kBaselines) {
    const std::string col = column_suffix(design);
    m["energy_" + col + "_over_mls"] = energy_value(e, design + "_over_mls");
    m["energy_total_" + col + "_over_mls"] = energy_value(e, "total_" + design + "_over_mls");
  }
  if (e.contains("by_block"))
    for (const auto& item : e["by_block"].items()) m["energy_mls_" + item.key()] = item.value();
  if (total.contains("memory_energy")) m["memory_energy"] = total["memory_energy"].value("total", 0.0);
}

// The training run's final batch loss and held-out accuracy (tools/train.py's
// summary.json: train_loss, test_accuracy); null for a point that does not
// train, and a loss train.py reports as null (not finite: training diverged).
void add_train_metrics(ojson& m, const Point& p, const nlohmann::json& summary) {
  m["train_loss"] = nullptr;
  m["train_accuracy"] = nullptr;
  if (!p.trains()) return;
  if (!summary.is_object() || !summary.contains("train_loss") || !summary.contains("test_accuracy"))
    throw Error("the training run's summary has no train_loss or test_accuracy");
  const nlohmann::json& loss = summary["train_loss"];
  const nlohmann::json& accuracy = summary["test_accuracy"];
  if (!(loss.is_null() || (loss.is_number() && loss.get<double>() >= 0)))
    throw Error("the training run's train_loss is not a non-negative number: " + quoted_excerpt(loss.dump()));
  if (!accuracy.is_number() || !(accuracy.get<double>() >= 0 && accuracy.get<double>() <= 1))
    throw Error("the training run's test_accuracy is not in [0, 1]: " + quoted_excerpt(accuracy.dump()));
  m["train_loss"] = loss;
  m["train_accuracy"] = accuracy;
}

ojson layer_details(const nlohmann::json& layers) {
  ojson out = ojson::array();
  for (const nlohmann::json& e : layers) {
    ojson d = {{"name", e.value("name", "")},
               {"pass", e.value("pass", "")},
               {"cycles", e.value("cycles", uint64_t{0})},
               {"utilization", e.value("utilization", 0.0)},
               {"acc_add", event(e, "acc_add")},
               {"acc_overflow", event(e, "acc_overflow")},
               {"rel_error_fp32", e.contains("rel_error_fp32") ? ojson(e["rel_error_fp32"]) : ojson(nullptr)}};
    if (e.contains("are")) d["are"] = e["are"];
    if (e.contains("energy")) d["energy_mls"] = e["energy"].value("mls", 0.0);
    out.push_back(std::move(d));
  }
  return out;
}

ojson sweep_context(const Sweep& s) { return {{"trace", s.trace}, {"passes", s.passes}, {"layers", s.layers}}; }

// 16 hex digits of FNV-1a over the record's JSON text without its checksum.
std::string record_checksum(ojson record) {
  record.erase("checksum");
  return hex64(fnv1a64(record.dump(-1, ' ', false, ojson::error_handler_t::replace)));
}

}  // namespace

ojson point_record(const Sweep& s, const Point& p, const nlohmann::json& report, double wall_seconds,
                   const nlohmann::json& train_summary) {
  if (!report.contains("total") || !report.contains("layers") || !report["layers"].is_array())
    throw Error("the run report has no total or layers");
  const nlohmann::json& total = report["total"];
  const bool wants_energy = !p.params["tech"].get<std::string>().empty();
  if (wants_energy && !total.contains("energy"))
    throw Error("the run report has no energy although the point sets tech (does `mlssim run` take --tech?)");
  ojson m = ojson::object();
  add_event_metrics(m, total);
  add_pass_metrics(m, report["layers"], p.params["rows"].get<int>(), p.params["cols"].get<int>());
  add_accuracy_metrics(m, report["layers"]);
  add_traffic_metrics(m, total);
  if (total.contains("energy")) add_energy_metrics(m, total);
  add_train_metrics(m, p, train_summary);
  ojson record = {{"format", kPointFormat},
                  {"id", p.id},
                  {"index", p.index},
                  {"sweep", sweep_context(s)},
                  {"params", p.params},
                  {"metrics", m},
                  {"layers", layer_details(report["layers"])},
                  {"config", report.value("config", nlohmann::json::object())},
                  {"wall_seconds", wall_seconds}};
  record["checksum"] = record_checksum(record);
  return record;
}

namespace {

// A record's value of a sweep parameter. A record written before the
// parameter existed lacks it, and its point ran at the default.
ojson recorded_param(const ojson& record, const params::Param& p) {
  const ojson& recorded = record.at("params");
  return recorded.contains(p.name) ? recorded.at(p.name) : ojson(params::default_value(p));
}

}  // namespace

namespace {

// What is wrong with a record's metrics: a negative or non-finite number, or
// counts that contradict each other ("" when none is).
std::string metrics_problem(const ojson& r) {
  const ojson& m = r["metrics"];
  for (const auto& item : m.items()) {
    const ojson& v = item.value();
    if (!v.is_null() && !v.is_number() && !v.is_string() && !v.is_boolean())
      return "metric " + item.key() + " is not a value";
    if (v.is_number_integer() && !v.is_number_unsigned()) return "metric " + item.key() + " is negative";
    if (v.is_number_float() && !(std::isfinite(v.get<double>()) && v.get<double>() >= 0))
      return "metric " + item.key() + " is negative or not finite";
  }
  for (const char* key : {"macs", "mul", "cycles"})
    if (!m.contains(key) || !m[key].is_number_unsigned()) return std::string("metric ") + key + " is missing";
  if (m["macs"] != m["mul"]) return "metrics macs and mul differ";
  // At most rows x cols products a cycle.
  const ojson& params = r["params"];
  if (!params.contains("rows") || !params.contains("cols") || !params["rows"].is_number_unsigned() ||
      !params["cols"].is_number_unsigned())
    return "no rows and cols";
  const unsigned __int128 capacity =
      (unsigned __int128)m["cycles"].get<uint64_t>() * params["rows"].get<uint64_t>() * params["cols"].get<uint64_t>();
  if (capacity < m["mul"].get<uint64_t>()) return "fewer cycles than its products need";
  return "";
}

}  // namespace

std::string record_problem(const ojson& r, const Point& p) {
  // Comparisons, not value(): a key of another type must not throw.
  if (!r.is_object() || !r.contains("format") || r["format"] != kPointFormat)
    return "not a " + std::string(kPointFormat) + " record";
  if (!r.contains("id") || r["id"] != p.id) return "the record of another point";
  if (!r.contains("params") || !r["params"].is_object() || !r.contains("metrics") || !r["metrics"].is_object())
    return "no params or metrics";
  for (const params::Param* param : sweep_params())
    if (recorded_param(r, *param) != p.params.at(param->name)) return "the record of other parameters";
  if (!r.contains("checksum") || r["checksum"] != record_checksum(r))
    return "its content does not match its checksum (edited or damaged)";
  return metrics_problem(r);
}

bool is_complete_record(const ojson& r, const Point& p) { return record_problem(r, p).empty(); }

// ---------------------------------------------------------------------------
// Result tables.

namespace {

// Metric names in first-seen order over the records in sweep order, so any
// set of records for the same points gives the same columns.
std::vector<std::string> metric_columns(const std::vector<ojson>& records) {
  std::vector<std::string> cols;
  std::set<std::string> seen;
  for (const ojson& r : records)
    for (const auto& item : r["metrics"].items())
      if (seen.insert(item.key()).second) cols.push_back(item.key());
  return cols;
}

std::string csv_cell(const ojson& v) {
  if (v.is_null()) return "";
  std::string text = v.is_string() ? v.get<std::string>() : v.dump();
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

}  // namespace

std::string results_csv(const Sweep& s, const std::vector<ojson>& records) {
  const std::vector<std::string> metrics = metric_columns(records);
  std::string out = "index,id";
  for (const std::string& p : s.varied) out += "," + p;
  for (const std::string& m : metrics) out += "," + m;
  out += "\n";
  for (const ojson& r : records) {
    out += csv_cell(r["index"]) + "," + csv_cell(r["id"]);
    for (const std::string& p : s.varied) out += "," + csv_cell(recorded_param(r, *params::find(p)));
    for (const std::string& m : metrics) out += "," + csv_cell(r["metrics"].contains(m) ? r["metrics"][m] : ojson());
    out += "\n";
  }
  return out;
}

ojson results_json(const Sweep& s, const std::vector<ojson>& records) {
  ojson sweep = sweep_context(s);
  sweep["file"] = s.file;
  sweep["varied"] = s.varied;
  // The records as gathered, without their checksums: those guard the stored
  // point files, and results.json is made again from them at every merge.
  ojson points = ojson::array();
  for (const ojson& r : records) {
    points.push_back(r);
    points.back().erase("checksum");
  }
  return {{"format", kResultsFormat},
          {"sweep", sweep},
          {"metrics", metric_columns(records)},
          {"points", std::move(points)}};
}

}  // namespace mls::sweep
