#pragma once
// The run parameters, in one table (docs/developing.md#adding-a-parameter).
// An entry names a parameter once, as sweep files and the report's "config"
// spell it (acc_bits), with its group, kind, range and help, and says how its
// value goes into and out of a RunConfig. The command-line flags
// (sim/cli_options), the report's "config" (sim/report), and the sweep
// parameters, point ids and point commands (sim/sweep) are all made from it.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ref/core/config.h"

namespace mls {

// Everything one run is configured by: the MlsConfig that ref/ and hw_model/
// take, and the energy table, which prices the events after the run.
// Which per-operand format flags (--elem-w, ...) were given: a given one
// overrides the plain flag (--elem) for its operand, whatever the order.
struct OperandFlags {
  PerOperand<bool> elem{false, false, false}, scale{false, false, false}, group{false, false, false};
};

// A sweep point's training run (docs/sweep.md#accuracy-from-training): not an
// `mlssim run` flag; a point with steps > 0 also trains `model` with its
// arithmetic through tools/train.py (mlssim-train) and records the final loss
// and held-out accuracy.
struct TrainSettings {
  int steps = 0;              // 0: no training
  std::string model = "cnn";  // train.py --model
  uint64_t seed = 0;          // train.py --seed: initialisation and batch order
  int batch = 0;              // train.py --batch-size; 0: the model's own
};

struct RunConfig {
  MlsConfig mls;
  std::string tech;  // a built-in table name or a table file, as given; empty: no energy
  bool gating = false;  // price zero-operand products at the table's gated cost
  // The plain --elem, --scale and --group as given (elem, scale and group of
  // this value): what the operands without a per-operand flag take.
  QuantConfig plain;
  OperandFlags given;  // the per-operand flags given
  TrainSettings train;  // sweeps only
};

namespace params {

// Which commands take a parameter: quant (quantize, conv, run), operand (the
// per-operand formats: conv, run), array (conv, run), energy (run), train
// (sweep files only: a point's training run, not a flag of any command).
enum class Group { quant, operand, array, energy, train };
// How a value is spelled. A command line gives text; a sweep file gives an
// integer as a JSON number; a boolean is a switch (--clip) or true/false.
enum class Kind { integer, text, boolean };
// Where a parameter appears besides the command line. kEveryId: hashed into
// every sweep point id, even at its default. Only the parameters sweeps had
// when point ids were introduced carry it; a parameter added since is hashed
// only into the ids of points that set it away from its default, so adding
// one keeps every existing id, and every finished point.
enum Use : unsigned { kSweep = 1, kReport = 2, kEveryId = 4 };

struct Param;
using Setter = void (*)(RunConfig& cfg, const Param& p, const std::string& text);
using Getter = nlohmann::json (*)(const RunConfig& cfg);

struct Param {
  const char* name;    // acc_bits: the sweep key and report key; the flag is --acc-bits
  Group group;
  Kind kind;
  const Range* range;  // an integer's fixed range: checked on set, shown in --help; else nullptr
  const char* help;    // --help text (the range is appended)
  unsigned use;        // kSweep | kReport | kEveryId
  // Parses text ("16", "e2m4", "true") into cfg; throws mls::Error, a
  // ConfigError for a value out of range. Cross-parameter checks are
  // MlsConfig::validate's.
  Setter set;
  // The canonical value: the sweep's params (so the point ids) and, unless
  // `report` is set, the report's "config".
  Getter get;
  Getter report = nullptr;  // the report's value when it differs from get's
  // The help made from a registry (tech: the energy tables), in place of help.
  std::string (*help_of)() = nullptr;
};

// Every parameter, in sweep order: array shape, accumulator, formats,
// quantizer, energy. It is the order of results.csv's parameter columns, point
// labels, and the flags within each group in --help.
const std::vector<Param>& table();
const Param* find(const std::string& name);  // nullptr when there is none
std::string known_names(unsigned use);        // "rows, cols, ..." for messages

const char* group_name(Group g);                // "quant", as describe --json and the module name it
const char* kind_name(Kind k);                  // "integer", "text", "boolean"
std::string flag(const Param& p);               // "--acc-bits"
std::string help(const Param& p);               // help, then the range
std::string text(const nlohmann::json& value);  // what set() takes back: 16 -> "16", true -> "true"
nlohmann::json default_value(const Param& p);   // get(RunConfig{})
std::string default_text(const Param& p);       // text(default_value(p)); "" for tech

// A ConfigError as the command line and sweep files say it, with the flag:
// "--acc-bits must be in [8, 62], got 7".
Error flag_error(const ConfigError& e);
// p.set, its ConfigError said with the flag.
void set(RunConfig& cfg, const Param& p, const std::string& text);
// MlsConfig::validate, its ConfigError said with the flag.
void validate(const RunConfig& cfg);

// [-+]? and 1 to 18 decimal digits: text that is always an int64.
bool is_short_integer(const std::string& text);
// Parsers for the setters: strict decimal text, errors naming the parameter.
int integer(const Param& p, const std::string& text);
bool boolean(const Param& p, const std::string& text);
uint64_t seed(const Param& p, const std::string& text);  // [0, 2^64 - 1], digits only: "-1" is no seed

}  // namespace params
}  // namespace mls
