#pragma once
// A dense, C-ordered tensor: the only container the reference library and the
// simulator exchange. Shapes are int64 so element counts can be checked for
// overflow when they come from untrusted files.
#include <cstdint>
#include <string>
#include <vector>

namespace mls {

using Shape = std::vector<int64_t>;

inline int64_t numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_str(const Shape& shape);

template <class T>
struct Tensor {
  Shape shape;
  std::vector<T> data;

  Tensor() = default;
  explicit Tensor(Shape s) : shape(std::move(s)), data(static_cast<size_t>(numel(shape))) {}
  int64_t size() const { return static_cast<int64_t>(data.size()); }
  int rank() const { return static_cast<int>(shape.size()); }
  int64_t dim(int i) const { return shape.at(static_cast<size_t>(i)); }
};

using TensorF = Tensor<float>;

}  // namespace mls
