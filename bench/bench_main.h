#pragma once
// What every bench binary shares: its entry points (SystemC's sc_main around
// the bench's run_bench, errors as one line naming the binary) and the CPU
// clock its figures are counted in (bench/README.md).
#include <string>
#include <vector>

namespace mls::bench {

// CPU time (user + system) of the process: a bench runs on one thread and
// starts no child, so this is bench/README.md's figure for what it brackets.
double cpu_now();

// Defined by each bench: its name (in error lines) and its body, given the
// command line's arguments after the program name; returns the exit status.
extern const char* const kBenchName;
int run_bench(const std::vector<std::string>& args);

}  // namespace mls::bench
