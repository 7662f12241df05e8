#include "sim/sweep/sweep.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "ref/core/config.h"
#include "ref/core/activity.h"
#include "ref/core/error.h"
#include "ref/core/rng.h"
#include "ref/io/file_io.h"
#include "sim/io/document.h"
#include "sim/cli/cli_options.h"
#include "sim/params/params.h"
#include "sim/energy/energy.h"
#include "sim/io/trace.h"

namespace mls::sweep {

namespace fs = std::filesystem;
using params::Kind;
using params::Param;

std::vector<const Param*> sweep_params() {
  std::vector<const Param*> out;
  for (const Param& p : params::table())
    if (p.use & params::kSweep) out.push_back(&p);
  return out;
}

namespace {

const std::set<std::string> kTopKeys = {"trace", "passes", "layers", "grid", "points", "name", "description"};
// Cross products beyond this are almost certainly a typo, and would not fit a
// results directory anyway.
constexpr size_t kMaxPoints = 100000;

const Param* find_param(const std::string& name) {
  const Param* p = params::find(name);
  return p && (p->use & params::kSweep) ? p : nullptr;
}

std::string unknown_param(const std::string& where, const std::string& name) {
  return where + ": unknown parameter '" + name + "' (known: " + params::known_names(params::kSweep) + ")";
}

// ---------------------------------------------------------------------------
// Parameter values.

int64_t integer_value(const ojson& v) {
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
      throw Error("integer " + quoted_excerpt(v.dump()) + " is out of range");
    return v.get<int64_t>();
  }
  // 2^63 bounds the cast: a float outside it is no int64 (and casting it is undefined).
  if (v.is_number_float() && std::fabs(v.get<double>()) < 0x1p63 && v.get<double>() == std::trunc(v.get<double>()))
    return int64_t(v.get<double>());
  if (v.is_string() && params::is_short_integer(v.get<std::string>())) return std::stoll(v.get<std::string>());
  throw Error("expected an integer, got " + quoted_excerpt(v.dump()));
}

// The text the table's setter takes, from a value in the sweep file.
std::string value_text(const Param& spec, const ojson& v) {
  if (spec.kind == Kind::integer) return std::to_string(integer_value(v));
  if (spec.kind == Kind::boolean) {
    if (!v.is_boolean()) throw Error("expected true or false, got " + quoted_excerpt(v.dump()));
    return v.get<bool>() ? "true" : "false";
  }
  if (!v.is_string()) throw Error("expected a name (string), got " + quoted_excerpt(v.dump()));
  return v.get<std::string>();
}

// Sets one parameter through the table, which canonicalizes names with the
// project's parsers (e2m4, not E2M4), so equal points get equal ids. Throws
// mls::Error without a prefix.
void apply_param(RunConfig& c, const Param& spec, const ojson& v) { params::set(c, spec, value_text(spec, v)); }

// Every sweep parameter, canonical, in table order: what a point id hashes.
ojson params_json(const RunConfig& c) {
  ojson out = ojson::object();
  for (const Param* p : sweep_params()) out[p->name] = ojson(p->get(c));
  return out;
}

// A built-in table name stays as it is; a table file is taken relative to the
// sweep file's directory, like the trace.
std::string resolve_tech(const std::string& tech, const fs::path& sweep_dir) {
  if (tech.empty() || is_builtin_energy_table(tech)) return tech;
  const fs::path p(tech);
  return (p.is_absolute() ? p : fs::absolute(sweep_dir / p)).lexically_normal().string();
}

// One value, checked alone, so the message names the parameter that is wrong:
// the setter parses it and checks its fixed range; a table is loaded. Checks
// that span parameters (tree_stages against rows) wait for the whole point.
void check_value(const Param& spec, const ojson& v, const fs::path& sweep_dir) {
  RunConfig c;
  apply_param(c, spec, v);
  if (!c.tech.empty()) load_energy_table(resolve_tech(c.tech, sweep_dir));  // names the built-ins when neither
}

// ---------------------------------------------------------------------------
// The sweep file's structure.

std::vector<std::string> string_list(const ojson& v, const std::string& where) {
  std::vector<std::string> out;
  if (v.is_string()) {
    out = cli::split_list(v.get<std::string>());
  } else if (v.is_array()) {
    for (const ojson& item : v) {
      if (!item.is_string() || item.get<std::string>().empty())
        throw Error(where + ": expected names, got " + quoted_excerpt(item.dump()));
      out.push_back(item.get<std::string>());
    }
  } else {
    throw Error(where + ": expected a list or a comma-separated string, got " + quoted_excerpt(v.dump()));
  }
  if (out.empty()) throw Error(where + ": the list is empty");
  return out;
}

struct Axis {
  const Param* spec;
  std::vector<ojson> values;
};

std::vector<Axis> read_grid(const ojson& grid, const std::string& file, const fs::path& dir) {
  if (!grid.is_object()) throw Error(file + ": grid must be a map from parameter names to value lists");
  std::vector<Axis> axes;
  for (const auto& item : grid.items()) {
    const std::string where = file + ": grid." + item.key();
    const Param* spec = find_param(item.key());
    if (!spec) throw Error(unknown_param(where, item.key()));
    Axis axis{spec, {}};
    if (item.value().is_array()) {
      for (const ojson& v : item.value()) axis.values.push_back(v);
    } else if (!item.value().is_object()) {
      axis.values.push_back(item.value());  // a single value: the whole sweep uses it
    }
    if (axis.values.empty()) throw Error(where + ": expected a non-empty list of values");
    for (const ojson& v : axis.values) {
      try {
        check_value(*spec, v, dir);
      } catch (const Error& e) {
        throw Error(where + ": " + e.what());
      }
    }
    axes.push_back(std::move(axis));
  }
  return axes;
}

using Assignment = std::vector<std::pair<const Param*, ojson>>;

// The grid's point count, capped: a count over `cap` is returned as cap + 1
// (the product of many axes would overflow).
size_t grid_count(const std::vector<Axis>& axes, size_t cap) {
  if (axes.empty()) return 0;
  size_t count = 1;
  for (const Axis& a : axes) {
    count *= a.values.size();
    if (count > cap) return cap + 1;
  }
  return count;
}

// The sweep's points, grid and explicit points together, held to kMaxPoints
// before either is expanded into memory.
void check_point_budget(const std::vector<Axis>& axes, const ojson& doc, const std::string& file) {
  const size_t grid = grid_count(axes, kMaxPoints);
  const size_t listed = doc.contains("points") && doc["points"].is_array() ? doc["points"].size() : 0;
  if (grid + listed <= kMaxPoints) return;
  const std::string over = "more than " + std::to_string(kMaxPoints);
  throw Error(file + ": the sweep has " + (grid > kMaxPoints ? over : std::to_string(grid + listed)) +
              " points (grid " + (grid > kMaxPoints ? over : std::to_string(grid)) + " + points " +
              std::to_string(listed) + "); a sweep may have at most " + std::to_string(kMaxPoints) +
              ": split the sweep");
}

// The cross product, first grid key slowest (nested loops in file order).
std::vector<Assignment> expand_grid(const std::vector<Axis>& axes) {
  const size_t count = grid_count(axes, kMaxPoints);
  std::vector<Assignment> out;
  out.reserve(count);
  for (size_t n = 0; n < count; ++n) {
    Assignment a;
    size_t rest = n;
    for (size_t i = axes.size(); i-- > 0;) {
      a.push_back({axes[i].spec, axes[i].values[rest % axes[i].values.size()]});
      rest /= axes[i].values.size();
    }
    std::reverse(a.begin(), a.end());
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<Assignment> read_points(const ojson& points, const std::string& file, const fs::path& dir) {
  if (!points.is_array()) throw Error(file + ": points must be a list of parameter maps");
  std::vector<Assignment> out;
  for (size_t i = 0; i < points.size(); ++i) {
    const std::string where = file + ": points[" + std::to_string(i) + "]";
    if (!points[i].is_object()) throw Error(where + ": expected a map from parameter names to values");
    Assignment a;
    for (const auto& item : points[i].items()) {
      const Param* spec = find_param(item.key());
      if (!spec) throw Error(unknown_param(where, item.key()));
      try {
        check_value(*spec, item.value(), dir);
      } catch (const Error& e) {
        throw Error(where + "." + item.key() + ": " + e.what());
      }
      a.push_back({spec, item.value()});
    }
    out.push_back(std::move(a));
  }
  return out;
}

// The parameters an id hashes: those of the first sweeps always (defaults
// filled in), one added since only away from its default, so that adding a
// parameter to the table keeps every existing id (sim/params/params.h, kEveryId).
// A point that sets no grouping runs with `run`'s default groupings
// (param_args), not with nc as sweeps did before: its params say "default" for
// `group` (make_point), so that it is another point than `group: nc` and a record
// made with nc before is not taken for it (a point that sets a grouping keeps its id).
ojson id_params(const ojson& params) {
  ojson out = ojson::object();
  for (const Param* p : sweep_params())
    if ((p->use & params::kEveryId) || params.at(p->name) != ojson(params::default_value(*p)))
      out[p->name] = params.at(p->name);
  return out;
}

// The id hashes what determines the result: the parameters (so `rows: [16]`
// and no rows are the same point), the trace as written, the passes and the
// layers. Not the index: a point keeps its id, and its finished record, when
// the grid around it is edited.
// The basis the first point ids were made with (ref/core/rng.h): kept so that
// finished sweeps still resume.
constexpr uint64_t kPointIdBasis = 1469598103934665603ull;

std::string point_id(const Sweep& s, const ojson& params) {
  const ojson context = {{"trace", s.trace}, {"passes", s.passes}, {"layers", s.layers}, {"params", id_params(params)}};
  return hex64(fnv1a64(context.dump(), kPointIdBasis)).substr(0, 12);
}

// group, group_w, group_a, group_e.
bool is_grouping(const std::string& name) { return name.rfind("group", 0) == 0; }

// A point that sets no grouping passes none on: `run` (and train.py) then
// apply their default groupings (docs/layers.md#default-groupings), as they
// do when the command line gives none.
bool left_to_default(const Param& p, bool sets_grouping) { return !sets_grouping && is_grouping(p.name); }

// The `mlssim run` flags of a point: every sweep parameter in table order,
// a switch only when on, no --tech without a table.
std::vector<std::string> param_args(const RunConfig& c, const fs::path& sweep_dir, bool sets_grouping) {
  RunConfig resolved = c;
  resolved.tech = resolve_tech(c.tech, sweep_dir);  // the child runs elsewhere
  std::vector<std::string> args;
  for (const Param* p : sweep_params()) {
    if (p->group == params::Group::train) continue;  // the training run's, not run's
    if (left_to_default(*p, sets_grouping)) continue;
    const std::string value = params::text(p->get(resolved));
    if (p->kind == Kind::boolean) {
      if (value == "true") args.push_back(params::flag(*p));
    } else if (!value.empty()) {
      args.insert(args.end(), {params::flag(*p), value});
    }
  }
  return args;
}

// The tools/train.py flags of a point's arithmetic: the quantizer's, the
// operands' and the array's parameters as `mlssim run` spells them (train.py
// takes them alike), the stochastic-rounding seed as --rounding-seed (train.py's
// --seed is the training run's), then the training parameters.
std::vector<std::string> train_args(const RunConfig& c, bool sets_grouping) {
  std::vector<std::string> args = {"--model", c.train.model, "--steps", std::to_string(c.train.steps), "--seed",
                                   std::to_string(c.train.seed)};
  if (c.train.batch > 0) args.insert(args.end(), {"--batch-size", std::to_string(c.train.batch)});
  for (const Param* p : sweep_params()) {
    if (p->group == params::Group::train || p->group == params::Group::energy) continue;
    if (left_to_default(*p, sets_grouping)) continue;
    const std::string value = params::text(p->get(c));
    if (std::string(p->name) == "seed") {
      args.insert(args.end(), {"--rounding-seed", value});
    } else if (p->kind == Kind::boolean) {
      if (value == "true") args.push_back(params::flag(*p));
    } else if (!value.empty()) {
      args.insert(args.end(), {params::flag(*p), value});
    }
  }
  return args;
}

Point make_point(Sweep& s, const Assignment& a, const fs::path& dir) {
  RunConfig c;
  Point p;
  for (const auto& [spec, value] : a) {
    apply_param(c, *spec, value);
    p.shown.push_back(spec->name);
  }
  p.params = params_json(c);
  const bool sets_grouping = std::any_of(p.shown.begin(), p.shown.end(), is_grouping);
  // Recorded as run: results.csv, results.json and the plots show "default",
  // not the registry's nc that such a point does not run with.
  if (!sets_grouping) p.params["group"] = "default";
  p.id = point_id(s, p.params);
  p.run_args = param_args(c, dir, sets_grouping);
  if (c.train.steps > 0) p.train_args = train_args(c, sets_grouping);
  try {
    params::validate(c);  // the checks that span parameters (tree_stages vs rows)
  } catch (const Error& e) {
    throw Error(s.file + ": " + p.label() + ": " + e.what());
  }
  return p;
}

void read_top_level(Sweep& s, const ojson& doc) {
  if (doc.is_null()) throw Error(s.file + ": the sweep file is empty (expected a map with trace and grid)");
  if (!doc.is_object()) throw Error(s.file + ": expected a map with trace and grid at the top level");
  for (const auto& item : doc.items())
    if (!kTopKeys.count(item.key()))
      throw Error(s.file + ": unknown key '" + item.key() +
                  "' (known: trace, passes, layers, grid, points, name, description)");
  if (!doc.contains("trace")) throw Error(s.file + ": missing 'trace' (the trace directory)");
  if (!doc["trace"].is_string() || doc["trace"].get<std::string>().empty())
    throw Error(s.file + ": trace: expected a directory path, got " + quoted_excerpt(doc["trace"].dump()));
  if (!doc.contains("grid") && !doc.contains("points"))
    throw Error(s.file + ": missing 'grid' (a map from run parameter names to value lists) or 'points'");
  s.trace = doc["trace"].get<std::string>();
  if (doc.contains("passes")) {
    s.passes = string_list(doc["passes"], s.file + ": passes");
    for (std::string& p : s.passes) {
      try {
        p = to_string(parse_pass(p));
      } catch (const Error& e) {
        throw Error(s.file + ": passes: " + e.what());
      }
    }
  }
  if (doc.contains("layers")) s.layers = string_list(doc["layers"], s.file + ": layers");
}

}  // namespace

std::string Point::label() const {
  std::string text;
  for (const Param* spec : sweep_params()) {
    if (std::find(shown.begin(), shown.end(), spec->name) == shown.end()) continue;
    text += (text.empty() ? "" : ", ") + std::string(spec->name) + "=" + params::text(params[spec->name]);
  }
  return "point " + std::to_string(index) + (text.empty() ? "" : " (" + text + ")");
}

Sweep load_sweep(const std::string& path) {
  Sweep s;
  s.file = path;
  const ojson doc = read_document(path, "sweep file");
  read_top_level(s, doc);
  const fs::path dir = fs::absolute(path).parent_path();
  const fs::path trace(s.trace);
  s.trace_dir = (trace.is_absolute() ? trace : dir / trace).lexically_normal().string();

  const Doing doing("expanding the sweep file " + path);
  const std::vector<Axis> axes = doc.contains("grid") ? read_grid(doc["grid"], path, dir) : std::vector<Axis>{};
  check_point_budget(axes, doc, path);
  std::vector<Assignment> assignments = expand_grid(axes);
  if (doc.contains("points")) {
    const std::vector<Assignment> extra = read_points(doc["points"], path, dir);
    assignments.insert(assignments.end(), extra.begin(), extra.end());
  }
  if (assignments.empty()) throw Error(path + ": the sweep has no points (empty grid and no points)");

  std::set<std::string> seen_ids, set_names;
  for (const Assignment& a : assignments) {
    Point p = make_point(s, a, dir);
    for (const std::string& n : p.shown) set_names.insert(n);
    if (!seen_ids.insert(p.id).second) {
      ++s.duplicates;
      continue;
    }
    p.index = s.points.size();
    s.points.push_back(std::move(p));
  }
  for (const Param* spec : sweep_params())
    if (set_names.count(spec->name)) s.varied.push_back(spec->name);
  return s;
}

void validate_trace(const Sweep& s) {
  try {
    load_trace(s.trace_dir, s.layers);
  } catch (const Error& e) {
    throw Error(s.file + ": trace: " + e.what());
  }
}

std::vector<std::string> run_command(const Sweep& s, const Point& p, const std::string& report_path) {
  std::vector<std::string> args = {"run", s.trace_dir};
  if (!s.passes.empty()) {
    std::string list;
    for (const std::string& pass : s.passes) list += (list.empty() ? "" : ",") + pass;
    args.insert(args.end(), {"--passes", list});
  }
  if (!s.layers.empty()) {
    std::string list;
    for (const std::string& layer : s.layers) list += (list.empty() ? "" : ",") + layer;
    args.insert(args.end(), {"--layers", list});
  }
  args.insert(args.end(), p.run_args.begin(), p.run_args.end());
  args.insert(args.end(), {"--quiet", "--no-progress", "--accuracy", "--report", report_path});
  return args;
}

std::vector<std::string> train_command(const Point& p, const std::string& out_dir) {
  std::vector<std::string> args = p.train_args;
  // One evaluation, after the last step; one thread, as -j counts a point as one CPU.
  args.insert(args.end(), {"--eval-every", std::to_string(p.params["train_steps"].get<int>()), "--threads", "1",
                           "--out", out_dir});
  return args;
}

}  // namespace mls::sweep
