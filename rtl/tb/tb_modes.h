#pragma once
#include <string>

namespace mls::rtl_tb {

// mul, acc, scaler, add or tree (tb_blocks.cpp); -1 for another name.
int run_block_test(const std::string& mode);
// Streams a vector set (mlssim vectors) through one array column (tb_vectors.cpp).
int run_vector_test(const std::string& dir);

}  // namespace mls::rtl_tb
