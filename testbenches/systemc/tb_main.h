#pragma once
// sc_main for GoogleTest-based SystemC testbenches. SystemC elaborates one
// design per process, so CTest runs each test in a process of its own
// (gtest_discover_tests); a test builds its bench, runs it, and exits.
#include <gtest/gtest.h>

#include <cstdlib>
#include <systemc>

int sc_main(int argc, char* argv[]) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}

// Silences the kernel banner, which the library prints before sc_main.
int main(int argc, char* argv[]) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  return sc_core::sc_elab_and_sim(argc, argv);
}
