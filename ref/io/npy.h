#pragma once
// NumPy .npy files (format versions 1-3). Reading accepts float16/32/64, C order,
// little-endian, and converts to float32; everything else is refused with a
// message naming the file. Writing is atomic.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ref/core/tensor.h"

namespace mls {

// The data is read in blocks of kNpyBlockElements elements (the last one
// shorter); `block(shape, first, values, count)`, when given, sees each block
// as float32 right after it is read, in order (an empty tensor: one block
// of 0), so a check or a hash over the data needs no second pass over memory.
constexpr size_t kNpyBlockElements = size_t{1} << 16;
using NpyBlockFn = std::function<void(const Shape& shape, int64_t first, const float* values, size_t count)>;
TensorF read_npy(const std::string& path, const NpyBlockFn& block = {});
// The shape alone, with read_npy's checks of the header and the file's size
// (not of the data).
Shape read_npy_shape(const std::string& path);

// The bytes of a .npy file. dtype is a NumPy descr: "<f4", "<f8", "<i4" or
// "|i1"; `data` holds the little-endian data of numel(shape) elements.
std::string npy_bytes(const std::string& descr, const Shape& shape, const void* data, size_t bytes);
void write_npy_raw(const std::string& path, const std::string& descr, const Shape& shape,
                   const void* data, size_t bytes);

void write_npy(const std::string& path, const TensorF& t);
void write_npy(const std::string& path, const Shape& shape, const std::vector<double>& data);
void write_npy(const std::string& path, const Shape& shape, const std::vector<int32_t>& data);
void write_npy(const std::string& path, const Shape& shape, const std::vector<int8_t>& data);
std::string npy_bytes(const TensorF& t);
std::string npy_bytes(const Shape& shape, const std::vector<double>& data);
std::string npy_bytes(const Shape& shape, const std::vector<int32_t>& data);
std::string npy_bytes(const Shape& shape, const std::vector<int8_t>& data);

// float16 bits -> float (exact).
float half_to_float(uint16_t h);

}  // namespace mls
