#pragma once
// The cache of Verilator models of the whole array (docs/rtl.md#models-on-demand):
// one directory per configuration, named by its parameters and a hash of
// everything the model is built from (the RTL and testbench sources, the
// Verilator version and flags), so an edited source gives a new model.
// A missing model is built under an exclusive lock on the directory's lock
// file: a second run that needs the same model waits for the first and then
// reuses it; a model appears only once complete (built aside, then renamed).
#include <string>
#include <vector>

#include "array_config.h"

namespace mls::rtl_tb {

// How a model is built: fixed when the project is configured (array_build_info.h).
struct ModelRecipe {
  std::string verilator;                  // the verilator executable
  std::vector<std::string> verilator_args;  // warnings, x handling, optimisation
  std::vector<std::string> rtl_sources;   // the .sv files
  std::string testbench;                  // tb_array.cpp
  std::vector<std::string> headers;       // the testbench's own headers (hashed)
  std::string include_dir;                // where they are
  std::vector<std::string> make_vars;     // CXX=..., OPT_FAST=..., OBJCACHE=...
  int jobs = 2;
};

struct ModelRequest {
  ArrayParams params;
  bool trace = false;      // --vcd needs a model built with tracing
  std::string fault;       // "", "ctrl" or "final-rounding": the test's fault builds
};

// The model's executable in cache_dir, built first when missing. Progress goes
// to stderr; a failed build throws with the tail of Verilator's log.
std::string find_or_build_model(const ModelRecipe& recipe, const ModelRequest& request, const std::string& cache_dir);

// The preprocessor define of a fault build, or throws on an unknown name.
std::string fault_define(const std::string& fault);

}  // namespace mls::rtl_tb
