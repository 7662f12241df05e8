#include "sim/params/params.h"

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>

#include "ref/io/file_io.h"
#include "ref/mapping/mapping.h"
#include "ref/workload/bwd_data_decompose.h"
#include "sim/energy/energy.h"

namespace mls::params {

using json = nlohmann::json;
using Text = std::string;

namespace {

// Any int, for an integer parameter without a fixed range (tree_stages, whose
// bound depends on rows, is checked by MlsConfig::validate).
constexpr Range kAnyInt{INT_MIN, INT_MAX};

// The parameters of the first sweeps: in sweep files, in the report, and in
// every point id (a parameter added later leaves kEveryId out, see params.h).
constexpr unsigned kFirstSweeps = kSweep | kReport | kEveryId;

// The plain quantizer flags set W, A and E alike; the report shows W's value.
template <class T>
void set_all(RunConfig& c, T QuantConfig::*field, const T& value) {
  c.mls.quant.for_each([&](QuantConfig& q) { q.*field = value; });
}

// The plain format flags (--elem, --scale, --group) set every operand that no
// per-operand flag (--elem-w, ...) set, so a per-operand flag overrides the
// plain one whatever the order.
template <class T>
void set_plain(RunConfig& c, T QuantConfig::*field, PerOperand<bool> OperandFlags::*given, const T& value) {
  c.plain.*field = value;
  for (Operand o : {Operand::weight, Operand::input, Operand::grad_output})
    if (!(c.given.*given)[o]) c.mls.quant[o].*field = value;
}

// A per-operand format parameter: unset ("") unless given, so that it is not
// passed on, and not hashed into a sweep point id, when the plain flag rules;
// the report shows the operand's format in use.
template <Operand O>
void set_elem_of(RunConfig& c, const Param&, const Text& t) {
  c.mls.quant[O].elem = parse_elem_format(t);
  c.given.elem[O] = true;
}
template <Operand O>
void set_scale_of(RunConfig& c, const Param&, const Text& t) {
  c.mls.quant[O].scale = parse_scale_format(t);
  c.given.scale[O] = true;
}
// A grouping value; a bad one names its parameter (--group-w k1).
Grouping grouping(const Param& p, const Text& t) {
  try {
    return parse_grouping(t);
  } catch (const ConfigError&) {
    throw;
  } catch (const Error& e) {
    throw ConfigError(p.name, e.what());
  }
}

template <Operand O>
void set_group_of(RunConfig& c, const Param& p, const Text& t) {
  c.mls.quant[O].group = grouping(p, t);
  c.given.group[O] = true;
}
template <Operand O>
json elem_of(const RunConfig& c) { return c.given.elem[O] ? c.mls.quant[O].elem.name() : ""; }
template <Operand O>
json scale_of(const RunConfig& c) { return c.given.scale[O] ? c.mls.quant[O].scale.name() : ""; }
template <Operand O>
json group_of(const RunConfig& c) { return c.given.group[O] ? to_string(c.mls.quant[O].group) : ""; }
template <Operand O>
json elem_in_use(const RunConfig& c) { return c.mls.quant[O].elem.name(); }
template <Operand O>
json scale_in_use(const RunConfig& c) { return c.mls.quant[O].scale.name(); }
template <Operand O>
json group_in_use(const RunConfig& c) { return to_string(c.mls.quant[O].group); }

// Report only: the plain flag's report key shows W's format in use (the
// report's config is made from the model's config, which has no plain value).
json weight_elem(const RunConfig& c) { return c.mls.quant.weight.elem.name(); }
json weight_scale(const RunConfig& c) { return c.mls.quant.weight.scale.name(); }
json weight_group(const RunConfig& c) { return to_string(c.mls.quant.weight.group); }

// The tech help, the built-in tables as the energy table registry names them
// (made when asked, not during static initialization).
std::string tech_help() {
  std::string names;
  for (const std::string& name : builtin_energy_table_names()) names += name + " | ";
  return "add energy to the report: " + names + "TABLE_FILE (docs/energy.md)";
}

constexpr unsigned kOperandUse = kSweep | kReport;  // not kEveryId: existing point ids stay

// The training parameters' bounds: a million steps is days even for the small CNN.
constexpr Range kTrainSteps{0, 1000000};
constexpr Range kTrainBatch{0, 65536};

// The networks tools/train.py trains (its --model).
Text train_model(const Text& t) {
  for (const char* model : {"cnn", "resnet20", "vit", "gpt"})
    if (t == model) return t;
  throw Error("unknown train_model " + quoted_excerpt(t) + " (expected cnn|resnet20|vit|gpt)");
}

// The training parameters are no command's flags: their errors name them as
// the sweep file spells them (train_steps), not as a flag.
int train_integer(const Param& p, const Text& t) {
  try {
    return integer(p, t);
  } catch (const ConfigError& e) {
    throw Error(std::string(p.name) + " " + e.requirement);
  }
}

// Kept to 32 bits, which every seed train.py's models and data take.
uint64_t train_seed(const Param& p, const Text& t) {
  uint64_t v = 0;
  try {
    v = seed(p, t);
  } catch (const ConfigError& e) {
    throw Error(std::string(p.name) + " " + e.requirement);
  }
  if (v > 0xffffffffull) throw Error(std::string(p.name) + " must be in [0, 2^32 - 1], got " + t);
  return v;
}

// Defaults are not written here: a parameter's default is its value in a
// default-constructed RunConfig (ref/core/config.h, ref/format/format.h), read back through
// the getter, so the model's structs and the command line cannot disagree.
const std::vector<Param> kTable = {
    {"rows", Group::array, Kind::integer, &ArrayConfig::kRows, "array rows R (chunks reduced per tree)",
     kFirstSweeps, [](RunConfig& c, const Param& p, const Text& t) { c.mls.array.rows = integer(p, t); },
     [](const RunConfig& c) -> json { return c.mls.array.rows; }},
    {"cols", Group::array, Kind::integer, &ArrayConfig::kCols, "array columns C (outputs side by side)",
     kFirstSweeps, [](RunConfig& c, const Param& p, const Text& t) { c.mls.array.cols = integer(p, t); },
     [](const RunConfig& c) -> json { return c.mls.array.cols; }},
    {"acc_bits", Group::array, Kind::integer, &ArrayConfig::kAccBits, "local accumulator width", kFirstSweeps,
     [](RunConfig& c, const Param& p, const Text& t) { c.mls.array.acc_bits = integer(p, t); },
     [](const RunConfig& c) -> json { return c.mls.array.acc_bits; }},
    {"acc_overflow", Group::array, Kind::text, nullptr, "saturate | wrap", kFirstSweeps,
     [](RunConfig& c, const Param&, const Text& t) { c.mls.array.acc_overflow = parse_overflow(t); },
     [](const RunConfig& c) -> json { return to_string(c.mls.array.acc_overflow); }},
    {"chunk", Group::array, Kind::integer, &ArrayConfig::kChunk, "products per local accumulation", kFirstSweeps,
     [](RunConfig& c, const Param& p, const Text& t) { c.mls.array.chunk = integer(p, t); },
     [](const RunConfig& c) -> json { return c.mls.array.chunk; }},
    {"tree_stages", Group::array, Kind::integer, nullptr,
     "adder-tree pipeline stages (0: one per level), [0, max(1, ceil(log2 rows))]", kFirstSweeps,
     [](RunConfig& c, const Param& p, const Text& t) { c.mls.array.tree_stages = integer(p, t); },
     [](const RunConfig& c) -> json { return c.mls.array.tree_stages; },
     // The report shows the stages in use, 0 resolved.
     [](const RunConfig& c) -> json { return c.mls.array.effective_tree_stages(); }},
    {"inject_fault", Group::array, Kind::text, nullptr,
     "test only: break a block (mul-lsb | scaler-mantissa | tree-order) to prove --check", kReport,
     [](RunConfig& c, const Param&, const Text& t) { c.mls.array.fault = parse_fault(t); },
     [](const RunConfig& c) -> json { return to_string(c.mls.array.fault); }},
    {"elem", Group::quant, Kind::text, nullptr, "element format <E_x, M_x>, e.g. e2m4", kFirstSweeps,
     [](RunConfig& c, const Param&, const Text& t) {
       set_plain(c, &QuantConfig::elem, &OperandFlags::elem, parse_elem_format(t));
     },
     [](const RunConfig& c) -> json { return c.plain.elem.name(); }, &weight_elem},
    {"scale", Group::quant, Kind::text, nullptr, "group-scale format <E_g, M_g>, M_g in [0,3]", kFirstSweeps,
     [](RunConfig& c, const Param&, const Text& t) {
       set_plain(c, &QuantConfig::scale, &OperandFlags::scale, parse_scale_format(t));
     },
     [](const RunConfig& c) -> json { return c.plain.scale.name(); }, &weight_scale},
    {"group", Group::quant, Kind::text, nullptr,
     "grouping: nc | n | c | tensor | kB (blocks of B along each pass's reduction, B in [2, 1024])", kFirstSweeps,
     [](RunConfig& c, const Param& p, const Text& t) {
       set_plain(c, &QuantConfig::group, &OperandFlags::group, grouping(p, t));
     },
     [](const RunConfig& c) -> json { return to_string(c.plain.group); }, &weight_group},
    {"rounding", Group::quant, Kind::text, nullptr, "nearest | stochastic", kFirstSweeps,
     [](RunConfig& c, const Param&, const Text& t) { set_all(c, &QuantConfig::rounding, parse_rounding(t)); },
     [](const RunConfig& c) -> json { return to_string(c.mls.quant.weight.rounding); }},
    {"seed", Group::quant, Kind::integer, nullptr, "seed of the stochastic-rounding draws, [0, 2^64 - 1]",
     kFirstSweeps, [](RunConfig& c, const Param& p, const Text& t) { set_all(c, &QuantConfig::seed, seed(p, t)); },
     [](const RunConfig& c) -> json { return c.mls.quant.weight.seed; }},
    {"clip", Group::quant, Kind::boolean, nullptr, "clip the mantissa inside its binade (the paper's Alg. 1)",
     kFirstSweeps, [](RunConfig& c, const Param& p, const Text& t) { set_all(c, &QuantConfig::clip, boolean(p, t)); },
     [](const RunConfig& c) -> json { return c.mls.quant.weight.clip; }},
    // Checked where it is loaded (run, sweep): a table file is read relative to
    // where it was named.
    {"tech", Group::energy, Kind::text, nullptr, "", kSweep | kEveryId,
     [](RunConfig& c, const Param&, const Text& t) { c.tech = t; },
     [](const RunConfig& c) -> json { return c.tech; }, nullptr, &tech_help},
    {"gating", Group::energy, Kind::boolean, nullptr,
     "price products with a zero operand, and their accumulator adds, at the table's gated cost", kSweep,
     [](RunConfig& c, const Param& p, const Text& t) { c.gating = boolean(p, t); },
     [](const RunConfig& c) -> json { return c.gating; }},
    // The memory system and the dataflow (docs/architecture.md#the-memory-system):
    // added after point ids, so hashed only into the ids of points that set them.
    {"dataflow", Group::array, Kind::text, nullptr,
     "loop order and PE-register reuse: baseline | weight-stationary | output-stationary", kSweep | kReport,
     [](RunConfig& c, const Param&, const Text& t) { c.mls.array.dataflow = parse_dataflow(t); },
     [](const RunConfig& c) -> json { return to_string(c.mls.array.dataflow); }},
    {"bwd_data", Group::array, Kind::text, nullptr,
     "strided conv2d backward-data: zero-insert | decompose (stride^2 dense sub-convolutions, no zero taps)",
     kSweep | kReport, [](RunConfig& c, const Param&, const Text& t) { c.mls.array.bwd_data = parse_bwd_data(t); },
     [](const RunConfig& c) -> json { return to_string(c.mls.array.bwd_data); }},
    {"bwd_weight", Group::array, Kind::text, nullptr,
     "backward-weight chunking: by-batch | fill-rows (shorter chunks when the batch leaves rows idle)",
     kSweep | kReport,
     [](RunConfig& c, const Param&, const Text& t) {
       if (t != "by-batch" && t != "fill-rows")
         throw Error("unknown bwd-weight mapping " + quoted_excerpt(t) + " (expected by-batch|fill-rows)");
       c.mls.array.bwd_weight = t == "fill-rows" ? BwdWeight::fill_rows : BwdWeight::by_batch;
     },
     [](const RunConfig& c) -> json {
       return c.mls.array.bwd_weight == BwdWeight::fill_rows ? "fill-rows" : "by-batch";
     }},
    {"out_format", Group::array, Kind::text, nullptr,
     "width at which results leave the array, for traffic and memory energy: fp32 | bf16 | fp16 | e4m3 "
     "(docs/energy.md#output-width)",
     kSweep | kReport, [](RunConfig& c, const Param&, const Text& t) { c.mls.array.out_format = parse_out_format(t); },
     [](const RunConfig& c) -> json { return to_string(c.mls.array.out_format); }},
    {"x_buffer_kb", Group::array, Kind::integer, &MemoryConfig::kKb, "X buffer capacity in KiB (0: unlimited)",
     kSweep | kReport, [](RunConfig& c, const Param& p, const Text& t) { c.mls.memory.x_buffer_kb = integer(p, t); },
     [](const RunConfig& c) -> json { return c.mls.memory.x_buffer_kb; }},
    {"y_buffer_kb", Group::array, Kind::integer, &MemoryConfig::kKb, "Y buffer capacity in KiB (0: unlimited)",
     kSweep | kReport, [](RunConfig& c, const Param& p, const Text& t) { c.mls.memory.y_buffer_kb = integer(p, t); },
     [](const RunConfig& c) -> json { return c.mls.memory.y_buffer_kb; }},
    {"out_buffer_kb", Group::array, Kind::integer, &MemoryConfig::kKb,
     "output buffer capacity in KiB (0: unlimited)", kSweep | kReport,
     [](RunConfig& c, const Param& p, const Text& t) { c.mls.memory.out_buffer_kb = integer(p, t); },
     [](const RunConfig& c) -> json { return c.mls.memory.out_buffer_kb; }},
    {"dram_bw", Group::array, Kind::integer, &MemoryConfig::kBw, "DRAM bandwidth in bytes per cycle (0: unlimited)",
     kSweep | kReport, [](RunConfig& c, const Param& p, const Text& t) { c.mls.memory.dram_bw = integer(p, t); },
     [](const RunConfig& c) -> json { return c.mls.memory.dram_bw; }},
    {"dram_latency", Group::array, Kind::integer, &MemoryConfig::kLatency,
     "DRAM latency in cycles, from a transfer's last byte to its use", kSweep | kReport,
     [](RunConfig& c, const Param& p, const Text& t) { c.mls.memory.dram_latency = integer(p, t); },
     [](const RunConfig& c) -> json { return c.mls.memory.dram_latency; }},
    // Formats per operand (docs/formats.md): W the weight, A the input
    // activation, E the output gradient. Each defaults to the plain flag.
    {"elem_w", Group::operand, Kind::text, nullptr, "W's element format (default: --elem)", kOperandUse,
     &set_elem_of<Operand::weight>, &elem_of<Operand::weight>, &elem_in_use<Operand::weight>},
    {"elem_a", Group::operand, Kind::text, nullptr, "A's element format (default: --elem)", kOperandUse,
     &set_elem_of<Operand::input>, &elem_of<Operand::input>, &elem_in_use<Operand::input>},
    {"elem_e", Group::operand, Kind::text, nullptr, "E's element format (default: --elem)", kOperandUse,
     &set_elem_of<Operand::grad_output>, &elem_of<Operand::grad_output>, &elem_in_use<Operand::grad_output>},
    {"scale_w", Group::operand, Kind::text, nullptr, "W's group-scale format (default: --scale)", kOperandUse,
     &set_scale_of<Operand::weight>, &scale_of<Operand::weight>, &scale_in_use<Operand::weight>},
    {"scale_a", Group::operand, Kind::text, nullptr, "A's group-scale format (default: --scale)", kOperandUse,
     &set_scale_of<Operand::input>, &scale_of<Operand::input>, &scale_in_use<Operand::input>},
    {"scale_e", Group::operand, Kind::text, nullptr, "E's group-scale format (default: --scale)", kOperandUse,
     &set_scale_of<Operand::grad_output>, &scale_of<Operand::grad_output>, &scale_in_use<Operand::grad_output>},
    {"group_w", Group::operand, Kind::text, nullptr, "W's grouping (default: --group)", kOperandUse,
     &set_group_of<Operand::weight>, &group_of<Operand::weight>, &group_in_use<Operand::weight>},
    {"group_a", Group::operand, Kind::text, nullptr, "A's grouping (default: --group)", kOperandUse,
     &set_group_of<Operand::input>, &group_of<Operand::input>, &group_in_use<Operand::input>},
    {"group_e", Group::operand, Kind::text, nullptr, "E's grouping (default: --group)", kOperandUse,
     &set_group_of<Operand::grad_output>, &group_of<Operand::grad_output>, &group_in_use<Operand::grad_output>},
    // The quantizer's scale rule (docs/reference.md#steps, step 2), common to W,
    // A and E like rounding; added after point ids, so last, and hashed only
    // into the ids of points that set it.
    {"scale_rule", Group::quant, Kind::text, nullptr,
     "group scale S_g: cover (smallest >= the group's max ratio, the paper's) | fit (smallest >= ratio / x_max, "
     "so the group max lands at most on the element format's largest value)",
     kSweep | kReport,
     [](RunConfig& c, const Param&, const Text& t) { set_all(c, &QuantConfig::scale_rule, parse_scale_rule(t)); },
     [](const RunConfig& c) -> json { return to_string(c.mls.quant.weight.scale_rule); }},
    // A sweep point's training run (docs/sweep.md#accuracy-from-training):
    // sweep files only, no command's flag, hashed only into the ids of points
    // that set them, so the sweeps without training keep their ids.
    {"train_steps", Group::train, Kind::integer, &kTrainSteps,
     "training steps with the point's arithmetic (tools/train.py); 0: no training", kSweep,
     [](RunConfig& c, const Param& p, const Text& t) { c.train.steps = train_integer(p, t); },
     [](const RunConfig& c) -> json { return c.train.steps; }},
    {"train_model", Group::train, Kind::text, nullptr, "the network trained: cnn | resnet20 | vit | gpt", kSweep,
     [](RunConfig& c, const Param&, const Text& t) { c.train.model = train_model(t); },
     [](const RunConfig& c) -> json { return c.train.model; }},
    {"train_seed", Group::train, Kind::integer, nullptr,
     "seed of the training run (initial weights, batches), [0, 2^32 - 1]", kSweep,
     [](RunConfig& c, const Param& p, const Text& t) { c.train.seed = train_seed(p, t); },
     [](const RunConfig& c) -> json { return c.train.seed; }},
    {"train_batch", Group::train, Kind::integer, &kTrainBatch, "training batch size; 0: the model's own", kSweep,
     [](RunConfig& c, const Param& p, const Text& t) { c.train.batch = train_integer(p, t); },
     [](const RunConfig& c) -> json { return c.train.batch; }},
};

}  // namespace

bool is_short_integer(const std::string& t) {
  const size_t sign = !t.empty() && (t[0] == '-' || t[0] == '+') ? 1 : 0;
  const size_t digits = t.size() - sign;
  if (digits < 1 || digits > 18) return false;
  for (size_t i = sign; i < t.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(t[i]))) return false;
  return true;
}

const std::vector<Param>& table() { return kTable; }

const Param* find(const std::string& name) {
  for (const Param& p : kTable)
    if (name == p.name) return &p;
  return nullptr;
}

std::string known_names(unsigned use) {
  std::string list;
  for (const Param& p : kTable)
    if (p.use & use) list += (list.empty() ? "" : ", ") + std::string(p.name);
  return list;
}

const char* group_name(Group g) {
  switch (g) {
    case Group::quant: return "quant";
    case Group::operand: return "operand";
    case Group::array: return "array";
    case Group::energy: return "energy";
    case Group::train: return "train";
  }
  return "?";
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::integer: return "integer";
    case Kind::text: return "text";
    case Kind::boolean: return "boolean";
  }
  return "?";
}

std::string flag(const Param& p) {
  std::string f = std::string("--") + p.name;
  for (char& c : f)
    if (c == '_') c = '-';
  return f;
}

std::string help(const Param& p) {
  const std::string text = p.help_of ? p.help_of() : p.help;
  return p.range ? text + ", " + p.range->text() : text;
}

std::string text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  return value.dump();
}

json default_value(const Param& p) { return p.get(RunConfig{}); }

std::string default_text(const Param& p) { return text(default_value(p)); }

Error flag_error(const ConfigError& e) {
  const Param* p = find(e.param);
  return Error((p ? flag(*p) : e.param) + " " + e.requirement);
}

void set(RunConfig& cfg, const Param& p, const std::string& value) {
  try {
    p.set(cfg, p, value);
  } catch (const ConfigError& e) {
    throw flag_error(e);
  }
}

void validate(const RunConfig& cfg) {
  try {
    cfg.mls.validate();
  } catch (const ConfigError& e) {
    throw flag_error(e);
  }
}

int integer(const Param& p, const std::string& t) {
  if (!is_short_integer(t)) throw ConfigError(p.name, "must be an integer, got " + quoted_excerpt(t));
  const int64_t v = std::stoll(t);
  check_range(p.name, v, p.range ? *p.range : kAnyInt);
  return int(v);
}

bool boolean(const Param& p, const std::string& t) {
  if (t == "true" || t == "false") return t == "true";
  throw ConfigError(p.name, "must be true or false, got " + quoted_excerpt(t));
}

uint64_t seed(const Param& p, const std::string& t) {
  errno = 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(t.c_str(), &end, 10);
  if (t.empty() || !std::isdigit(static_cast<unsigned char>(t[0])) || *end != '\0' || errno == ERANGE)
    throw ConfigError(p.name, "must be an integer in [0, 2^64 - 1], got " + quoted_excerpt(t));
  return v;
}

}  // namespace mls::params
