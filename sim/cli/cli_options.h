#pragma once
// Command-line options shared by the subcommands. The flags that fill the run's
// configuration are made from the parameter table (sim/params/params.h): its name,
// kind, default and help, so a parameter is declared there once.
#include <boost/program_options.hpp>
#include <map>
#include <string>
#include <vector>

#include "ref/core/config.h"
#include "sim/params/params.h"

namespace mls::cli {

namespace po = boost::program_options;

// Parameter values as typed (or defaulted), by parameter name; to_run_config()
// parses and validates them.
struct ConfigFlags {
  std::map<std::string, std::string> text;
  std::string preset;  // --preset NAME, "" for none
};

// --preset NAME (docs/formats.md#presets): a documented bundle of parameter
// values. A preset's parameter takes its value unless its flag was given.
struct Preset {
  const char* name;
  const char* help;
  std::vector<std::pair<const char*, const char*>> values;  // parameter name, value as a flag takes it
  const char* unquantized = "";  // run's --unquantized LIST, unless given ("first,classifier")
};
const std::vector<Preset>& presets();
// The --preset option (run, conv).
void add_preset_option(po::options_description& desc, ConfigFlags& flags);
// After parse(): the preset's values into flags.text, except for the flags
// given on the command line. Throws mls::Error for an unknown preset, naming
// the known ones. Returns the given flags that override a preset value with
// another ("--acc-bits 20"), for print_preset_overrides.
std::vector<std::string> apply_preset(const po::variables_map& vm, ConfigFlags& flags);
// One line on stderr when `overridden` is not empty: the preset no longer
// holds as named ("note: --preset nvfp4 no longer holds as named: --acc-bits
// 20 overrides its value").
void print_preset_overrides(const ConfigFlags& flags, const std::vector<std::string>& overridden);
// Whether the run sets a grouping: --group, --group-w/-a/-e given, or a
// preset that sets one. Without, run's default groupings apply.
bool grouping_given(const po::variables_map& vm, const ConfigFlags& flags);
// The preset's --unquantized list ("" for none or no preset).
std::string preset_unquantized(const ConfigFlags& flags);

// The flags of one group of the table: quantizer (quantize, conv, run), array
// (conv, run), energy (run: --tech).
void add_quant_options(po::options_description& desc, ConfigFlags& flags);
void add_array_options(po::options_description& desc, ConfigFlags& flags);
// The per-operand formats (--elem-w ... --group-e): conv, run.
void add_operand_options(po::options_description& desc, ConfigFlags& flags);
void add_energy_options(po::options_description& desc, ConfigFlags& flags);
// Throws mls::Error naming the flag: "--acc-bits must be in [8, 62], got 7".
RunConfig to_run_config(const ConfigFlags& flags);
MlsConfig to_config(const ConfigFlags& flags);  // to_run_config(flags).mls

// Worker threads: [1, 256].
void check_threads(int threads);

// "fwd,bwd-data" -> {"fwd", "bwd-data"}; empty items are dropped.
std::vector<std::string> split_list(const std::string& text);

// Parses args (subcommand arguments, program name excluded). Returns false when
// --help was asked for (usage already printed). Throws mls::Error on bad flags.
bool parse(const std::vector<std::string>& args, const std::string& usage, po::options_description& desc,
           const po::positional_options_description& positional, po::variables_map& vm);

}  // namespace mls::cli
