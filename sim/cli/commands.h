#pragma once
// The subcommands of mlssim. Each takes its arguments without the program and
// subcommand names, returns the exit code, and throws mls::Error on bad input.
#include <string>
#include <vector>

namespace mls {

int cmd_quantize(const std::vector<std::string>& args);
int cmd_conv(const std::vector<std::string>& args);
int cmd_run(const std::vector<std::string>& args);
int cmd_energy(const std::vector<std::string>& args);
int cmd_sweep(const std::vector<std::string>& args);
int cmd_vectors(const std::vector<std::string>& args);
int cmd_merge(const std::vector<std::string>& args);
int cmd_synth(const std::vector<std::string>& args);
int cmd_describe(const std::vector<std::string>& args);

}  // namespace mls
