// mls_rtl_array --vectors DIR [--vcd FILE] [--leave-log FILE] [--model-cache DIR]
//               [--fault ctrl|final-rounding]
// runs one layer-pass written by `mlssim vectors` through the whole RTL array
// (docs/rtl.md#the-whole-array), whatever shape, formats, acc_bits and overflow
// policy DIR was written for: it reads DIR/meta.txt, refuses what the RTL
// cannot run (one line naming the file and what), finds the Verilator model
// built for that configuration, building it first when missing
// (docs/rtl.md#models-on-demand), and runs it (tb_array.cpp) in its place.
// The default configuration's model is built with the project; others go into
// the model cache: --model-cache, else $MLS_RTL_MODEL_CACHE, else the build
// tree's rtl/array_models. --fault selects the test's fault builds.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "array_build_info.h"
#include "array_config.h"
#include "array_models.h"

namespace mls::rtl_tb {
namespace {

struct Args {
  std::string vectors, vcd, leave_log, cache, fault;
};

constexpr const char* kUsage =
    "usage: mls_rtl_array --vectors DIR [--vcd FILE] [--leave-log FILE] [--model-cache DIR] "
    "[--fault ctrl|final-rounding]\n";

// Returns false (after printing why) on bad usage.
bool parse(int argc, char** argv, Args& a) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    std::string* slot = flag == "--vectors"       ? &a.vectors
                        : flag == "--vcd"         ? &a.vcd
                        : flag == "--leave-log"   ? &a.leave_log
                        : flag == "--model-cache" ? &a.cache
                        : flag == "--fault"       ? &a.fault
                                                  : nullptr;
    if (!slot || i + 1 >= argc) {
      std::cerr << "mls_rtl_array: " << (slot ? "no value for '" : "unknown argument '") << flag << "'\n" << kUsage;
      return false;
    }
    *slot = argv[++i];
  }
  if (a.vectors.empty()) std::cerr << kUsage;
  return !a.vectors.empty();
}

// A CMake list (array_build_info.h) as its items.
std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> items;
  size_t from = 0;
  while (from <= list.size() && !list.empty()) {
    const size_t at = std::min(list.find(';', from), list.size());
    items.push_back(list.substr(from, at - from));
    from = at + 1;
  }
  return items;
}

ModelRecipe recipe() {
  ModelRecipe r;
  r.verilator = MLS_VERILATOR;
  r.verilator_args = split(MLS_VERILATOR_ARGS);
  r.rtl_sources = split(MLS_ARRAY_SOURCES);
  r.testbench = MLS_ARRAY_TESTBENCH;
  r.headers = split(MLS_ARRAY_HEADERS);
  r.include_dir = MLS_ARRAY_TB_DIR;
  r.make_vars = split(MLS_ARRAY_MAKE_VARS);
  return r;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ";") + x;
  return s;
}

// The model to run: the prebuilt one when the configuration is its own.
std::string model_for(const Args& a) {
  const std::string meta_path = a.vectors + "/meta.txt";
  ModelRequest q;
  q.params = params_for(read_meta(meta_path), meta_path);
  q.trace = !a.vcd.empty();
  q.fault = a.fault;
  if (!q.fault.empty()) fault_define(q.fault);  // an unknown name is refused before any build
  if (q.fault.empty() && join(q.params.parameters()) == MLS_PREBUILT_PARAMETERS) return MLS_PREBUILT_MODEL;
  std::string cache = a.cache;
  if (cache.empty() && std::getenv("MLS_RTL_MODEL_CACHE")) cache = std::getenv("MLS_RTL_MODEL_CACHE");
  if (cache.empty()) cache = MLS_DEFAULT_MODEL_CACHE;
  return find_or_build_model(recipe(), q, cache);
}

}  // namespace
}  // namespace mls::rtl_tb

int main(int argc, char** argv) {
  using namespace mls::rtl_tb;
  Args a;
  if (!parse(argc, argv, a)) return 2;
  try {
    const std::string model = model_for(a);
    std::vector<std::string> args = {model, "--vectors", a.vectors};
    if (!a.vcd.empty()) args.insert(args.end(), {"--vcd", a.vcd});
    if (!a.leave_log.empty()) args.insert(args.end(), {"--leave-log", a.leave_log});
    std::vector<char*> argv_model;
    for (std::string& s : args) argv_model.push_back(s.data());
    argv_model.push_back(nullptr);
    execv(model.c_str(), argv_model.data());
    throw std::runtime_error(model + ": cannot run: " + std::strerror(errno));
  } catch (const std::exception& e) {
    std::cerr << "mls_rtl_array: error: " << e.what() << "\n";
    return 2;
  }
}
