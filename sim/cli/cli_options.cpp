#include "sim/cli/cli_options.h"

#include <algorithm>
#include <iostream>
#include <sstream>

#include "ref/core/error.h"
#include "ref/io/file_io.h"

namespace mls::cli {

namespace {

void add_param_options(po::options_description& desc, ConfigFlags& f, params::Group group) {
  for (const params::Param& p : params::table()) {
    if (p.group != group) continue;
    const std::string name = params::flag(p).substr(2), help = params::help(p);
    auto store = [&f, &p](const std::string& text) { f.text[p.name] = text; };
    if (p.kind == params::Kind::boolean) {
      desc.add_options()(name.c_str(), po::bool_switch()->notifier([store](bool on) { store(on ? "true" : "false"); }),
                         help.c_str());
      continue;
    }
    // Text, parsed by the table's setter, so a bad value gets the table's
    // message rather than boost's.
    po::typed_value<std::string>* value = po::value<std::string>()->notifier(store);
    const std::string fallback = params::default_text(p);
    if (!fallback.empty()) value->default_value(fallback);
    desc.add_options()(name.c_str(), value, help.c_str());
  }
}

}  // namespace

void add_quant_options(po::options_description& desc, ConfigFlags& f) {
  add_param_options(desc, f, params::Group::quant);
}
void add_array_options(po::options_description& desc, ConfigFlags& f) {
  add_param_options(desc, f, params::Group::array);
}
void add_operand_options(po::options_description& desc, ConfigFlags& f) {
  add_param_options(desc, f, params::Group::operand);
}
void add_energy_options(po::options_description& desc, ConfigFlags& f) {
  add_param_options(desc, f, params::Group::energy);
}

const std::vector<Preset>& presets() {
  static const std::vector<Preset> kPresets = {
      {"paper-cifar",
       "the paper's CIFAR-10 setting: e2m1 elements, e8m1 scales, nc groups, 16-bit accumulator, --clip; run: the "
       "first layer and the classifier unquantized (--unquantized first,classifier)",
       {{"elem", "e2m1"}, {"scale", "e8m1"}, {"group", "nc"}, {"acc_bits", "16"}, {"clip", "true"}},
       "first,classifier"},
      {"paper-imagenet", "the paper's ImageNet setting (Table 2): e2m4 elements, e8m1 scales, nc groups, 32-bit accumulator",
       {{"elem", "e2m4"}, {"scale", "e8m1"}, {"group", "nc"}, {"acc_bits", "32"}}},
      // Block-scaled formats as the MLS datapath expresses them: blocks of B
      // along the reduction index under the fp32 tensor scale; the
      // accumulator is the narrowest that cannot overflow at chunk 16
      // (16 x max_q^2: 41 bits for e4m3, 13 for e2m1, given 16 as the paper's).
      {"mxfp8", "OCP MXFP8 (E4M3) as MLS: e4m3 elements, e8m0 scales per 32-element block (k32), 41-bit accumulator, "
                "round to nearest, block max fitted to the largest element (--scale-rule fit)",
       {{"elem", "e4m3"}, {"scale", "e8m0"}, {"group", "k32"}, {"acc_bits", "41"}, {"rounding", "nearest"},
        {"scale_rule", "fit"}}},
      {"mxfp4", "OCP MXFP4 as MLS: e2m1 elements, e8m0 scales per 32-element block (k32), 16-bit accumulator, "
                "round to nearest, block max fitted to the largest element (--scale-rule fit)",
       {{"elem", "e2m1"}, {"scale", "e8m0"}, {"group", "k32"}, {"acc_bits", "16"}, {"rounding", "nearest"},
        {"scale_rule", "fit"}}},
      {"nvfp4", "NVFP4 as MLS: e2m1 elements, e4m3 scales per 16-element block (k16), 16-bit accumulator, "
                "round to nearest, block max fitted to the largest element (--scale-rule fit)",
       {{"elem", "e2m1"}, {"scale", "e4m3"}, {"group", "k16"}, {"acc_bits", "16"}, {"rounding", "nearest"},
        {"scale_rule", "fit"}}},
  };
  return kPresets;
}

namespace {

std::string preset_names() {
  std::string names;
  for (const Preset& p : presets()) names += (names.empty() ? "" : ", ") + std::string(p.name);
  return names;
}

}  // namespace

void add_preset_option(po::options_description& desc, ConfigFlags& f) {
  const std::string help = "a documented bundle of flags, which explicit flags override: " + preset_names() +
                           " (docs/formats.md#presets)";
  desc.add_options()("preset", po::value(&f.preset)->value_name("NAME"), help.c_str());
}

namespace {

// By the grouping's own parser; a value it refuses is left to the
// parameter's check, which names the flag.
bool is_block_grouping(const std::string& text) {
  try {
    return parse_grouping(text).is_block();
  } catch (const Error&) {
    return true;
  }
}

// A block-scaled preset is its block grouping: an explicit --group or
// --group-w/-a/-e that is not a block grouping cannot apply with it (the
// result would be neither that format nor the flags' own).
void check_block_grouping_kept(const po::variables_map& vm, const Preset& preset) {
  const auto group = std::find_if(preset.values.begin(), preset.values.end(),
                                  [](const auto& v) { return std::string(v.first) == "group"; });
  if (group == preset.values.end() || !is_block_grouping(group->second)) return;
  for (const char* flag : {"group", "group-w", "group-a", "group-e"}) {
    if (!vm.count(flag) || vm[flag].defaulted()) continue;
    const std::string given = vm[flag].as<std::string>();
    if (!is_block_grouping(given))
      throw Error("--preset " + std::string(preset.name) + " is a block-scaled format (--group " + group->second +
                  "): --" + flag + " " + given + " cannot apply with it; give the flags without the preset");
  }
}

}  // namespace

std::vector<std::string> apply_preset(const po::variables_map& vm, ConfigFlags& f) {
  std::vector<std::string> overridden;
  if (f.preset.empty() && !vm.count("preset")) return overridden;
  const auto it = std::find_if(presets().begin(), presets().end(),
                               [&](const Preset& p) { return f.preset == p.name; });
  if (it == presets().end())
    throw Error("--preset: unknown preset " + quoted_excerpt(f.preset) + " (known: " + preset_names() + ")");
  for (const auto& [name, value] : it->values) {
    const params::Param* p = params::find(name);
    const std::string flag = params::flag(*p).substr(2);
    if (vm.count(flag) && !vm[flag].defaulted()) {  // given: it wins
      if (f.text[name] != value) overridden.push_back("--" + flag + " " + f.text[name]);
      continue;
    }
    f.text[name] = value;
  }
  check_block_grouping_kept(vm, *it);
  return overridden;
}

void print_preset_overrides(const ConfigFlags& f, const std::vector<std::string>& overridden) {
  if (overridden.empty()) return;
  std::string flags;
  for (const std::string& o : overridden) flags += (flags.empty() ? "" : ", ") + o;
  std::cerr << "note: --preset " << f.preset << " no longer holds as named: " << flags
            << " overrides its value" << (overridden.size() > 1 ? "s" : "") << "\n";
}

bool grouping_given(const po::variables_map& vm, const ConfigFlags& f) {
  for (const char* flag : {"group", "group-w", "group-a", "group-e"})
    if (vm.count(flag) && !vm[flag].defaulted()) return true;
  for (const Preset& p : presets())
    if (f.preset == p.name)
      for (const auto& v : p.values)
        if (std::string(v.first).rfind("group", 0) == 0) return true;
  return false;
}

std::string preset_unquantized(const ConfigFlags& f) {
  for (const Preset& p : presets())
    if (f.preset == p.name) return p.unquantized;
  return "";
}

RunConfig to_run_config(const ConfigFlags& f) {
  RunConfig c;
  for (const params::Param& p : params::table()) {
    const auto it = f.text.find(p.name);
    if (it != f.text.end()) params::set(c, p, it->second);
  }
  params::validate(c);
  return c;
}

MlsConfig to_config(const ConfigFlags& f) { return to_run_config(f).mls; }

void check_threads(int threads) {
  if (threads < 1 || threads > 256) throw Error("--threads must be in [1, 256], got " + std::to_string(threads));
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

namespace {

// "missing TRACE_DIR" for a positional argument, boost's message otherwise.
std::string missing_message(const po::required_option& e, const po::options_description& desc,
                            const po::positional_options_description& positional) {
  std::string name = e.get_option_name();
  name.erase(0, name.find_first_not_of('-'));
  for (unsigned i = 0; i < positional.max_total_count() && i < 8; ++i)
    if (positional.name_for_position(i) == name)
      return "missing " + desc.find(name, false).semantic()->name() + " (see --help)";
  return std::string(e.what()) + " (see --help)";
}

// boost's what() substitutes %value%, %option%, ... by searching the message
// again after every replacement, so a value holding its own placeholder
// (`-j 'x%value%'`) never finishes. This is the same substitution in one pass
// over the template: inserted text is never searched again.
class BoostMessage : public po::error_with_option_name {
 public:
  explicit BoostMessage(const po::error_with_option_name& e) : po::error_with_option_name(e) {}
  std::string text() const {
    std::map<std::string, std::string> values(m_substitutions);
    values["canonical_option"] = get_canonical_option_name();
    values["prefix"] = get_canonical_option_prefix();
    std::string form = m_error_template;
    for (const auto& [name, fallback] : m_substitution_defaults)  // boost's own constant texts
      for (size_t at; values[name].empty() && (at = form.find(fallback.first)) != std::string::npos;)
        form.replace(at, fallback.first.size(), fallback.second);
    std::string out;
    for (size_t i = 0; i < form.size();) {
      const size_t end = form[i] == '%' ? form.find('%', i + 1) : std::string::npos;
      const auto it = end == std::string::npos ? values.end() : values.find(form.substr(i + 1, end - i - 1));
      if (it == values.end()) {
        out += form[i++];
        continue;
      }
      out += it->second;
      i = end + 1;
    }
    return out;
  }
};

}  // namespace

bool parse(const std::vector<std::string>& args, const std::string& usage, po::options_description& desc,
           const po::positional_options_description& positional, po::variables_map& vm) {
  desc.add_options()("help,h", "show this help");
  try {
    po::store(po::command_line_parser(args).options(desc).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << usage << "\n\n" << desc << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::required_option& e) {
    throw Error(missing_message(e, desc, positional));
  } catch (const po::error_with_option_name& e) {
    throw Error(BoostMessage(e).text() + " (see --help)");
  } catch (const po::error& e) {
    throw Error(std::string(e.what()) + " (see --help)");
  }
  return true;
}

}  // namespace mls::cli
