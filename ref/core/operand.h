#pragma once
// The three tensors of a layer's training step and a value per tensor. Every
// pass multiplies two of them (docs/reference.md#lowering-to-a-grouped-product);
// each carries its own formats (PerOperand<QuantConfig>), so weights,
// activations and errors can be quantized differently.
#include <string>

namespace mls {

// W, A and E; for a matmul, A and W are the first and second operand.
enum class Operand { weight, input, grad_output };
std::string to_string(Operand o);

template <class T>
struct PerOperand {
  T weight, input, grad_output;

  // The same value for all three: what the plain --elem/--scale/--group set.
  static PerOperand all(const T& v) { return {v, v, v}; }

  T& operator[](Operand o) { return o == Operand::weight ? weight : o == Operand::input ? input : grad_output; }
  const T& operator[](Operand o) const {
    return o == Operand::weight ? weight : o == Operand::input ? input : grad_output;
  }
  template <class F>
  void for_each(F&& f) {
    f(weight);
    f(input);
    f(grad_output);
  }
};

}  // namespace mls
