#pragma once
// Keyword arguments of the Python module (python/mlssim) as the command line
// takes them: each parameter by its sweep name (acc_bits=16), its value as the
// flag's text, parsed by the same option table and parameter setters as
// `mlssim conv` and `mlssim quantize` (sim/cli/cli_options.h), so a bad value
// raises the message the CLI prints.
#include <string>
#include <utility>
#include <vector>

#include "sim/params/params.h"

namespace mls::py {

// One keyword argument: the parameter's sweep name and its value as text
// ("16", "e2m4", "true").
using Kwarg = std::pair<std::string, std::string>;

// Which command's flags apply: `quantize` (the quantizer's) or `conv` (the
// quantizer's, the per-operand formats, the array's and --preset).
enum class Command { quantize, conv };

// The run configuration the command would make from these flags. `preset`
// ("" for none) as --preset. Throws mls::Error with the CLI's message; an
// unknown name or a parameter of another command is refused naming the ones
// that apply.
RunConfig config_from_kwargs(Command command, const std::vector<Kwarg>& kwargs, const std::string& preset);

// The parameter names `command` takes, in table order.
std::vector<std::string> parameter_names(Command command);

}  // namespace mls::py
