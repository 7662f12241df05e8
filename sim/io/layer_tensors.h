#pragma once
// A layer of a trace: its name, its kind bound to its tensors, the tensors
// (or, with their data dropped, their shapes and fingerprint) and the files
// they came from.
#include <memory>
#include <optional>
#include <string>

#include "ref/core/tensor.h"
#include "ref/workload/layer_kind.h"

namespace mls {

struct LayerTensors {
  std::string name;
  // The layer's kind, bound to these tensors' shapes (bind_layer_kind).
  std::shared_ptr<const LayerKind> kind;
  TensorF weight, input;
  std::optional<TensorF> grad_output;
  // Where each tensor came from, for error messages.
  std::string weight_file = "weight", input_file = "input", grad_output_file = "grad_output";
  // A hash of the tensors' shapes and bits (tensors_fingerprint), taken as
  // load_trace read them, so a run's identity and the check of a layer read
  // again need no tensor in memory; unset for tensors made otherwise.
  uint64_t fingerprint = 0;
  // False when the trace was loaded with its tensors' data dropped (their
  // shapes kept): load_tensors (sim/io/trace.h) reads them again.
  bool resident = true;
};

// Folds the layer's tensors' shapes and bits into a 64-bit hash: each
// tensor's TensorFingerprint, started from the previous one's value (the
// first from the FNV-1a basis), weight, input, then grad_output.
uint64_t tensors_fingerprint(const LayerTensors& t);

// One tensor's part of tensors_fingerprint, fed block by block as the tensor
// is read (read_npy's blocks), so reading a trace touches its data once.
// Every block but the last must hold a multiple of 8 values.
class TensorFingerprint {
 public:
  TensorFingerprint(uint64_t h, const Shape& shape);
  void add(const float* values, size_t count);
  uint64_t value() const;

 private:
  uint64_t lane_[4];
  size_t count_ = 0;
  bool tail_ = false;  // a block ended inside an 8-value round: no more may follow
};

// Binds `kind` to t's tensor shapes and stores it in t. A geometry error is an
// mls::Error "<where> (<files>): <what is wrong>".
void bind_layer_kind(LayerTensors& t, std::unique_ptr<LayerKind> kind, const std::string& where);

}  // namespace mls
