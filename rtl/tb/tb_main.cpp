// mls_rtl_tb: the RTL testbench. Exit 0 when every output agrees bit for bit
// with the golden model, 1 on a mismatch, 2 on bad usage or input. A build
// may leave out the vector mode (MLS_TB_NO_VECTORS) or the block tests
// (MLS_TB_NO_BLOCKS).
#include <exception>
#include <iostream>
#include <string>

#include "tb_modes.h"

int main(int argc, char** argv) {
  const std::string usage = "usage: mls_rtl_tb mul|acc|scaler|add|tree | mls_rtl_tb vectors DIR\n";
  if (argc < 2) {
    std::cerr << usage;
    return 2;
  }
  const std::string mode = argv[1];
  try {
#ifndef MLS_TB_NO_VECTORS
    if (mode == "vectors") {
      if (argc != 3) {
        std::cerr << usage;
        return 2;
      }
      return mls::rtl_tb::run_vector_test(argv[2]);
    }
#endif
#ifndef MLS_TB_NO_BLOCKS
    const int status = mls::rtl_tb::run_block_test(mode);
    if (status >= 0) return status;
#endif
  } catch (const std::exception& e) {
    std::cerr << "mls_rtl_tb " << mode << ": error: " << e.what() << "\n";
    return 2;
  }
  std::cerr << "mls_rtl_tb: unknown mode '" << mode << "'\n" << usage;
  return 2;
}
