#pragma once
// Architecture exploration sweeps (docs/reference.md#commands, docs/sweep.md): a sweep file names a
// trace and a grid of `mlssim run` parameters; every point of the grid becomes
// one `mlssim run` in its own process (SystemC elaborates once per process), and
// one point record in RESULTS_DIR/points/<id>.json. This header holds the pure
// parts: reading and validating the sweep file, expanding it into points, and
// turning run reports into point records and result tables.
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/params/params.h"

namespace mls::sweep {

// Records and result tables keep their keys in insertion order, so the CSV
// columns and the JSON read the same way whichever process wrote them.
using ojson = nlohmann::ordered_json;

// The run parameters a sweep may set: the entries of the parameter table
// (sim/params/params.h) marked kSweep, in table order. A parameter's name in the
// sweep file is its `run` flag without the dashes, '-' spelled '_' (acc_bits
// for --acc-bits).
std::vector<const params::Param*> sweep_params();

struct Point {
  size_t index = 0;        // position in the sweep: grid first, then explicit points
  std::string id;          // stable: a hash of the canonical parameters and the sweep context
  ojson params;            // every parameter of sweep_params(), canonical values, defaults filled in
  std::vector<std::string> run_args;  // `mlssim run` flags for the parameters (paths absolute)
  // tools/train.py flags of the point's training run; empty when train_steps is 0
  std::vector<std::string> train_args;
  bool trains() const { return !train_args.empty(); }
  std::string label() const;          // "point 7 (elem=e2m4, group=nc)", for messages
  std::vector<std::string> shown;     // the parameter names the sweep file set, for label()
};

struct Sweep {
  std::string file;                 // the sweep file as given on the command line
  std::string trace;                // the trace as written in the file (part of every point id)
  std::string trace_dir;            // the trace directory, absolute
  std::vector<std::string> passes;  // empty: run's default (all three)
  std::vector<std::string> layers;  // empty: every layer
  std::vector<std::string> varied;  // parameters the file sets, in sweep_params() order: CSV columns
  std::vector<Point> points;
  size_t duplicates = 0;            // points dropped because an earlier point has the same id
};

// Reads a JSON (.json) or YAML sweep file, validates every parameter value with
// the project's own parsers and MlsConfig::validate, and expands the grid. Any
// problem is an mls::Error "<file>: <what is wrong>" naming the parameter.
// Does not touch the trace (see validate_trace).
Sweep load_sweep(const std::string& path);

// Loads the trace with the sweep's layer selection, so a missing file or an
// unknown layer name stops the sweep before any point runs.
void validate_trace(const Sweep& sweep);

// The `mlssim run` arguments of one point, after the program name: run, trace,
// passes, layers, parameters, then --quiet --no-progress --accuracy --report.
std::vector<std::string> run_command(const Sweep& sweep, const Point& point, const std::string& report_path);

// The tools/train.py arguments of a point that trains (mlssim-train runs
// them): the model, steps, seeds and arithmetic, one evaluation at the end, one
// thread, DIR/summary.json the result.
std::vector<std::string> train_command(const Point& point, const std::string& out_dir);

// The point record built from one run's report and, when the point trains, its
// training run's summary.json (else null); `wall_seconds` is the point's wall
// time. Throws mls::Error when the report lacks what the point asked for (e.g.
// energy when the point has a tech) or the summary lacks the loss or accuracy.
ojson point_record(const Sweep& sweep, const Point& point, const nlohmann::json& report, double wall_seconds,
                   const nlohmann::json& train_summary = nullptr);

// Why `record` is not a finished record of `point` ("" when it is; a resumed
// sweep skips it): another point's or parameters', a checksum that does not
// match its content, a negative or non-finite metric, metrics mul and macs
// that differ, or fewer cycles than rows x cols products a cycle allow.
std::string record_problem(const ojson& record, const Point& point);
bool is_complete_record(const ojson& record, const Point& point);

// The tables of docs/reference.md#commands, from the records of every point in sweep order: one CSV
// row per point (index, id, the varied parameters, then the metrics; no wall
// time, so shards merged give the same bytes as a whole run) and the JSON with
// the full records.
std::string results_csv(const Sweep& sweep, const std::vector<ojson>& records);
ojson results_json(const Sweep& sweep, const std::vector<ojson>& records);

}  // namespace mls::sweep
