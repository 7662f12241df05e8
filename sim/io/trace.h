#pragma once
// Training traces (docs/reference.md#trace-format): a directory with manifest.json and .npy tensors.
// Loading is strict: any inconsistency is an mls::Error naming the layer and
// file, raised before anything is simulated or written.
#include <map>
#include <string>
#include <vector>

#include "sim/io/layer_tensors.h"
#include "sim/io/vector_ops.h"

namespace mls {

// Budgets of a manifest (docs/reference.md#size-budgets), checked before any
// tensor is read: layers are counted while the manifest is parsed, so a huge
// one is refused before its document is built; layer-passes count 3 for a
// layer with grad_output, 1 for a forward-only layer.
constexpr size_t kMaxTraceLayers = 10000;
constexpr size_t kMaxTraceLayerPasses = 20000;

struct Trace {
  std::string dir;
  std::string model;
  std::vector<LayerTensors> layers;
  // The manifest's vector ops, all of them (also those after layers not
  // selected by --layers: their work goes with their layer's passes).
  std::vector<VectorOp> vector_ops;
};

// Whether a loaded trace keeps its tensors' data. `run` drops it: every tensor
// is still read and checked (finite, shapes) before anything runs, and its
// fingerprint kept, but a run then holds one layer's tensors at a time
// (load_tensors), not the whole trace (644 MB for ResNet-18 at batch 32).
enum class TensorData { kept, dropped };

// What a process that read and checked the trace found: each layer's
// fingerprint, by name. -j's parent reads the trace and its workers get
// this: a tensor's data is then read once more, when its layer runs (and
// must still match), not by every worker up front as well.
using CheckedTrace = std::map<std::string, uint64_t>;

// Loads the layers named in `only` (all when empty; an unknown name is an
// error). With `checked` (data dropped), the tensors' shapes come from their
// .npy headers and their fingerprints from `checked`: no data is read.
Trace load_trace(const std::string& dir, const std::vector<std::string>& only = {},
                 TensorData data = TensorData::kept, const CheckedTrace* checked = nullptr);

// A CheckedTrace as a file (JSON), and read back for the trace `trace_dir`:
// an mls::Error naming the file when it is not one, or is another trace's.
std::string checked_trace_text(const Trace& trace);
CheckedTrace read_checked_trace(const std::string& path, const std::string& trace_dir);

// The layer with its tensors' data, read again from its files when dropped;
// an mls::Error naming the file if a tensor no longer matches the fingerprint
// it had when the trace was loaded (the file changed during the run).
LayerTensors load_tensors(const LayerTensors& t);

}  // namespace mls
