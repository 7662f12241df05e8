#include "python/src/config_args.h"

#include <algorithm>

#include "ref/core/error.h"
#include "ref/io/file_io.h"
#include "sim/cli/cli_options.h"

namespace mls::py {

namespace {

bool takes(Command command, params::Group group) {
  if (group == params::Group::quant) return true;
  return command == Command::conv && (group == params::Group::operand || group == params::Group::array);
}

// The options `command` parses, made by the CLI's own helpers.
void add_options(Command command, cli::po::options_description& desc, cli::ConfigFlags& flags) {
  cli::add_quant_options(desc, flags);
  if (command == Command::quantize) return;
  cli::add_operand_options(desc, flags);
  cli::add_preset_option(desc, flags);
  cli::add_array_options(desc, flags);
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// The kwargs as command-line words: a switch for a true boolean, nothing for
// a false one (the flag's default), `--name value` otherwise.
std::vector<std::string> command_words(Command command, const std::vector<Kwarg>& kwargs, const std::string& preset) {
  std::vector<std::string> words;
  for (const auto& [name, value] : kwargs) {
    const params::Param* p = params::find(name);
    if (!p || !takes(command, p->group))
      throw Error("unknown parameter " + quoted_excerpt(name) + " (known: " + joined(parameter_names(command)) + ")");
    if (p->kind == params::Kind::boolean) {
      params::boolean(*p, value);  // "true" | "false", else the table's message
      if (value == "true") words.push_back(params::flag(*p));
      continue;
    }
    words.push_back(params::flag(*p));
    words.push_back(value);
  }
  if (!preset.empty()) words.insert(words.end(), {"--preset", preset});
  return words;
}

}  // namespace

std::vector<std::string> parameter_names(Command command) {
  std::vector<std::string> names;
  for (const params::Param& p : params::table())
    if (takes(command, p.group) && (p.use & params::kSweep)) names.push_back(p.name);
  return names;
}

RunConfig config_from_kwargs(Command command, const std::vector<Kwarg>& kwargs, const std::string& preset) {
  if (command == Command::quantize && !preset.empty()) throw Error("--preset does not apply to quantize");
  cli::ConfigFlags flags;
  cli::po::options_description desc;
  add_options(command, desc, flags);
  cli::po::variables_map vm;
  cli::parse(command_words(command, kwargs, preset), "", desc, {}, vm);
  if (command == Command::conv) cli::apply_preset(vm, flags);
  // A false boolean given explicitly wins over a preset's true, as any given
  // value does (the command line has no way to say it).
  for (const auto& [name, value] : kwargs)
    if (params::find(name)->kind == params::Kind::boolean) flags.text[name] = value;
  return cli::to_run_config(flags);
}

}  // namespace mls::py
