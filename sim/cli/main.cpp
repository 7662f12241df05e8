// mlssim: quantize, convolve and simulate MLS low-bit training arithmetic.
#include <systemc>

#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "ref/core/error.h"
#include "sim/cli/commands.h"

namespace {

const char* kUsage =
    "usage: mlssim <command> [options]   (mlssim <command> --help for its options)\n"
    "\n"
    "commands:\n"
    "  quantize IN.npy --dequant OUT.npy   quantize a tensor with the reference MLS quantizer\n"
    "  conv --pass P --weight W --input A  golden MLS convolution arithmetic (no SystemC)\n"
    "  run TRACE_DIR --report R.json       simulate a trace on the SystemC MAC array\n"
    "  energy REPORT.json                  energy of a report against fp32 and fp8 arrays\n"
    "  sweep SWEEP_FILE --out DIR          architecture exploration over a parameter grid\n"
    "  vectors TRACE_DIR --out DIR         one layer-pass's codes and golden results for the RTL testbench\n"
    "  merge PARTIAL... --report R.json    the report of a whole run from its shards' partial reports\n"
    "  synth TOPOLOGY --out TRACE_DIR      a trace of synthetic tensors for a network given by its shapes\n"
    "  describe --json                     the parameters, presets and energy blocks, for outside tools\n";

}  // namespace

int sc_main(int argc, char* argv[]) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  const std::map<std::string, int (*)(const std::vector<std::string>&)> commands = {
      {"quantize", mls::cmd_quantize}, {"conv", mls::cmd_conv}, {"run", mls::cmd_run},
      {"energy", mls::cmd_energy},     {"sweep", mls::cmd_sweep},     {"vectors", mls::cmd_vectors},
      {"merge", mls::cmd_merge},       {"synth", mls::cmd_synth},     {"describe", mls::cmd_describe}};
  const auto it = commands.find(argv[1]);
  if (it == commands.end()) {
    std::cerr << "mlssim: unknown command '" << argv[1] << "'\n" << kUsage;
    return 2;
  }
  try {
    return it->second(std::vector<std::string>(argv + 2, argv + argc));
  } catch (const mls::Error& e) {
    std::cerr << "mlssim " << argv[1] << ": error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "mlssim " << argv[1] << ": internal error: " << e.what() << "\n";
    return 3;
  }
}

// The SystemC library's own main() prints a banner before sc_main runs; ours
// silences it (tables and reports on stdout should not carry it), then hands
// over to the kernel as usual.
int main(int argc, char* argv[]) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  return sc_core::sc_elab_and_sim(argc, argv);
}
