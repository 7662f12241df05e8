#include "sim/run/vector_work.h"

#include <algorithm>
#include <optional>

namespace mls {

namespace {

// Per element {add, mul, div, exp} forward and backward of each activation
// (docs/energy.md#vector-work: exp counts exp and log; backward reuses what
// forward kept, e.g. tanh's t for gelu).
struct ActivationCounts {
  const char* fn;
  VectorOpCounts fwd, bwd;
};
const ActivationCounts kActivations[] = {
    {"relu", {1, 0, 0, 0}, {1, 0, 0, 0}},        {"relu6", {2, 0, 0, 0}, {2, 0, 0, 0}},
    {"hardtanh", {2, 0, 0, 0}, {2, 0, 0, 0}},    {"leaky_relu", {1, 1, 0, 0}, {1, 1, 0, 0}},
    {"prelu", {1, 1, 0, 0}, {1, 1, 0, 0}},       {"rrelu", {1, 1, 0, 0}, {1, 1, 0, 0}},
    {"hardsigmoid", {3, 1, 0, 0}, {2, 1, 0, 0}}, {"hardswish", {3, 2, 0, 0}, {3, 2, 0, 0}},
    {"sigmoid", {1, 0, 1, 1}, {1, 2, 0, 0}},     {"tanh", {2, 1, 1, 1}, {1, 2, 0, 0}},
    {"silu", {1, 1, 1, 1}, {2, 3, 0, 0}},        {"gelu", {4, 6, 1, 1}, {4, 8, 0, 0}},
    {"elu", {2, 1, 0, 1}, {1, 1, 0, 0}},         {"celu", {2, 1, 0, 1}, {1, 1, 0, 0}},
    {"selu", {2, 2, 0, 1}, {1, 2, 0, 0}},        {"mish", {3, 2, 1, 3}, {4, 6, 0, 0}},
    {"softplus", {1, 0, 0, 2}, {1, 1, 1, 1}},    {"softsign", {1, 0, 1, 0}, {1, 2, 1, 0}},
    {"logsigmoid", {1, 0, 0, 2}, {1, 1, 1, 1}},  {"glu", {1, 1, 1, 1}, {2, 3, 0, 0}},
};

uint64_t elements_of(const Shape& shape) {
  uint64_t n = 1;
  for (int64_t d : shape) n *= uint64_t(d);
  return n;
}

// Rows a norm reduces: a layer norm's (all but the last dim), a batch norm's channels (dim 1).
uint64_t rows_of(const VectorOp& op) {
  if (op.op == VectorOpKind::batch_norm) return op.shape.size() > 1 ? uint64_t(op.shape[1]) : 1;
  return elements_of(op.shape) / uint64_t(op.shape.back());
}

bool uses(const LayerKind& kind, Pass pass, Operand which) {
  return kind.x_operand(pass) == which || kind.y_operand(pass) == which;
}

void add_quantization(hw::VectorWork& w, const QuantTensor& q) {
  w.quant_elements += uint64_t(q.sq.size());
  w.quant_groups += uint64_t(q.sg.size());
  w.quant_tensors += 1;
}

}  // namespace

VectorOpCounts vector_op_counts(const VectorOp& op, bool backward) {
  switch (op.op) {
    case VectorOpKind::softmax:  // max, sub, exp, sum, div; back: dy*y, sum, sub, *y
      return backward ? VectorOpCounts{2, 2, 0, 0} : VectorOpCounts{3, 0, 1, 1};
    case VectorOpKind::layer_norm:
    case VectorOpKind::batch_norm:  // mean, sub, square, var sum, normalise, affine
      return backward ? VectorOpCounts{6, 5, 0, 0, 0, 2, 0} : VectorOpCounts{4, 3, 0, 0, 1, 2, 1};
    case VectorOpKind::residual_add:  // the add; back: the gradients summed at the fork
      return VectorOpCounts{1, 0, 0, 0};
    case VectorOpKind::activation:
      break;
  }
  for (const ActivationCounts& a : kActivations)
    if (op.fn == a.fn) return backward ? a.bwd : a.fwd;
  return {};  // parse_vector_ops accepts only the functions above
}

hw::VectorWork vector_op_work(const VectorOp& op, bool backward) {
  const VectorOpCounts c = vector_op_counts(op, backward);
  const uint64_t n = elements_of(op.shape), rows = rows_of(op);
  hw::VectorWork w;
  w.vec_add = n * uint64_t(c.add) + rows * uint64_t(c.row_add);
  w.vec_mul = n * uint64_t(c.mul) + rows * uint64_t(c.row_mul);
  w.vec_div = n * uint64_t(c.div);
  w.vec_exp = n * uint64_t(c.exp);
  w.vec_rsqrt = rows * uint64_t(c.row_rsqrt);
  return w;
}

std::map<std::string, std::vector<const VectorOp*>> vector_ops_by_layer(const Trace& trace) {
  std::map<std::string, std::vector<const VectorOp*>> out;
  if (trace.layers.empty()) return out;
  for (const VectorOp& op : trace.vector_ops) out[op.after.empty() ? trace.layers.front().name : op.after].push_back(&op);
  return out;
}

hw::VectorWork layer_ops_work(const std::vector<const VectorOp*>& ops, Pass pass) {
  hw::VectorWork w;
  if (pass == Pass::bwd_weight) return w;
  for (const VectorOp* op : ops) w += vector_op_work(*op, pass == Pass::bwd_data);
  return w;
}

hw::VectorWork quantizer_work(const QuantLayer& layer, Pass pass, const std::vector<Pass>& passes) {
  hw::VectorWork w;
  const auto first_user = [&](Operand which) -> std::optional<Pass> {
    for (Pass p : {Pass::fwd, Pass::bwd_data, Pass::bwd_weight})
      if (std::find(passes.begin(), passes.end(), p) != passes.end() && layer.has_pass(p) && uses(*layer.kind, p, which))
        return p;
    return std::nullopt;
  };
  for (Operand which : {layer.kind->x_operand(pass), layer.kind->y_operand(pass)})
    if (first_user(which) == pass) add_quantization(w, layer.operand(which));
  for (const QuantLayer::Requantized& r : layer.requantized)
    if (r.first_pass == pass) add_quantization(w, r.q);
  return w;
}

}  // namespace mls
