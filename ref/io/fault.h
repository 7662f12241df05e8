#pragma once
// Fault injection for tests, in the manner of SQLite's: MLSSIM_FAULT=write:N
// makes the N-th output write of the process fail (as a full disk would, with
// ENOSPC), MLSSIM_FAULT=alloc:N makes its N-th allocation throw
// std::bad_alloc. N counts from 1, from the command's start (arm()). Always compiled in and inert unless the
// variable is set: the cost is one test of a flag per write and per
// allocation. A value that is not write:N or alloc:N stops the program at
// start-up with a one-line error (a typo must not pass for a clean run).
// Child processes inherit the variable, and so each fails its own N-th one.
// testbenches/cli/test_fault_injection.py loops N over a run, a merge and a
// sweep (docs/testing.md#fault-injection).
namespace mls::fault {

// Counts one output write; true when it is the one to fail.
bool fail_write();

// Starts counting (sc_main calls it as the command starts): allocations made
// before, by static initializers and the SystemC kernel's start-up, are not
// counted, because nothing could report their failure but an abort.
void arm();

}  // namespace mls::fault
