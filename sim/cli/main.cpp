// mlssim: quantize, convolve and simulate MLS low-bit training arithmetic.
#include <systemc>

#include <cstdlib>
#include <iostream>
#include <map>
#include <new>
#include <string>
#include <system_error>
#include <vector>

#include "ref/core/activity.h"
#include "ref/core/error.h"
#include "ref/io/fault.h"
#include "sim/cli/commands.h"
#include "sim/cli/version.h"  // generated (cmake/mlssim_version.cmake)

namespace {

const char* kUsage =
    "usage: mlssim <command> [options]   (mlssim <command> --help for its options; mlssim --version)\n"
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

// The one line for memory running out; `detail` says how it showed.
int out_of_memory(const char* command, const std::string& detail) {
  const std::string fallback = std::string("running '") + command + "'";
  std::cerr << "mlssim " << command << ": error: out of memory while " << mls::Doing::current(fallback) << detail
            << " (free memory or raise the limit, e.g. ulimit -v)\n";
  return 1;
}

}  // namespace

int sc_main(int argc, char* argv[]) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  if (std::string(argv[1]) == "--version") {
    const std::string describe = MLSSIM_GIT_DESCRIBE;
    std::cout << "mlssim " << MLSSIM_VERSION << (describe.empty() ? "" : " (git " + describe + ")") << "\n";
    return 0;
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
  mls::fault::arm();  // MLSSIM_FAULT counts from the command's start (ref/io/fault.h)
  try {
    return it->second(std::vector<std::string>(argv + 2, argv + argc));
  } catch (const std::bad_alloc&) {
    // A user error (an input too large for this machine), not a crash: one line, exit 1.
    return out_of_memory(argv[1], "");
  } catch (const std::system_error& e) {
    // A thread whose stack cannot be mapped (EAGAIN under a memory limit) is out of memory too.
    if (e.code() == std::errc::resource_unavailable_try_again || e.code() == std::errc::not_enough_memory)
      return out_of_memory(argv[1], std::string(" (") + e.what() + ")");
    std::cerr << "mlssim " << argv[1] << ": internal error: " << e.what() << "\n";
    return 3;
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
  try {
    return sc_core::sc_elab_and_sim(argc, argv);
  } catch (const std::bad_alloc&) {  // the kernel's own start-up, before sc_main
    return out_of_memory(argc > 1 ? argv[1] : "", " starting the SystemC kernel");
  }
}
