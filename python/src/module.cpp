// _mlssim: the golden model as a Python extension (python/mlssim/__init__.py
// wraps it; docs/python.md). Arrays cross as numpy float32 (other float dtypes
// are rounded to float32 first, as the CLI's .npy reader does); every
// mls::Error becomes a ValueError with the message the CLI prints after
// "error: ". The work runs with the GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <thread>

#include "python/src/config_args.h"
#include "python/src/passes.h"
#include "ref/core/error.h"
#include "ref/quant/quantizer.h"
#include "sim/cli/cli_options.h"
#include "ref/workload/layer_kind.h"

namespace pybind = pybind11;

namespace mls::py {

namespace {

using FloatArray = pybind::array_t<float, pybind::array::c_style | pybind::array::forcecast>;

TensorF to_tensor(const FloatArray& a) {
  TensorF t(Shape(a.shape(), a.shape() + a.ndim()));
  if (t.size() > 0) std::memcpy(t.data.data(), a.data(), size_t(t.size()) * sizeof(float));
  return t;
}

pybind::array_t<float> to_array(const TensorF& t) {
  pybind::array_t<float> a(std::vector<pybind::ssize_t>(t.shape.begin(), t.shape.end()));
  if (t.size() > 0) std::memcpy(a.mutable_data(), t.data.data(), size_t(t.size()) * sizeof(float));
  return a;
}

// 0: every core the machine has.
int worker_threads(int threads) {
  if (threads == 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  cli::check_threads(threads);
  return threads;
}

// --block-axis as `mlssim quantize` checks it (sim/cli/cmd_quantize.cpp).
BlockAxis block_axis_of(const std::optional<int>& dim, const Shape& shape, const QuantConfig& q) {
  if (!dim) return default_block_axis(shape);
  if (!q.group.is_block())
    throw Error("--block-axis applies to a block grouping (--group kB), not --group " + to_string(q.group));
  if (*dim < 0 || *dim >= int(std::max<size_t>(shape.size(), 1)))
    throw Error("--block-axis " + std::to_string(*dim) + " is not a dim of the tensor's shape " + shape_str(shape));
  return {*dim, 0};
}

pybind::array_t<float> quantize_array(const FloatArray& x, const std::string& name, const std::vector<Kwarg>& kwargs,
                                      std::optional<int> block_axis, std::optional<FloatArray> random, int threads) {
  const RunConfig cfg = config_from_kwargs(Command::quantize, kwargs, "");
  const int workers = worker_threads(threads);
  const TensorF t = to_tensor(x);
  TensorF r;
  if (random) r = to_tensor(*random);
  TensorF out;
  {
    pybind::gil_scoped_release unlocked;
    const QuantConfig& q = cfg.mls.quant.weight;
    out = dequantize(quantize(t, name, q, block_axis_of(block_axis, t.shape, q), random ? &r : nullptr, workers));
  }
  return to_array(out);
}

pybind::list layer_passes(const std::string& kind, const std::string& keys, const std::vector<std::string>& passes,
                          const FloatArray& weight, const FloatArray& input, std::optional<FloatArray> grad_output,
                          const std::string& name, const std::vector<Kwarg>& kwargs, const std::string& preset,
                          int threads, bool default_groups) {
  const RunConfig cfg = config_from_kwargs(Command::conv, kwargs, preset);
  const int workers = worker_threads(threads);
  LayerCall call;
  call.name = name;
  call.kind = make_kind(kind, nlohmann::json::parse(keys), "layer '" + name + "'");
  for (const std::string& p : passes) call.passes.push_back(parse_pass(p));
  call.default_groups = default_groups;
  call.weight = to_tensor(weight);
  call.input = to_tensor(input);
  call.has_grad_output = grad_output.has_value();
  if (grad_output) call.grad_output = to_tensor(*grad_output);
  std::vector<PassOutput> outputs;
  {
    pybind::gil_scoped_release unlocked;
    outputs = run_passes(std::move(call), cfg, workers);
  }
  pybind::list out;
  for (const PassOutput& o : outputs) out.append(pybind::make_tuple(to_array(o.result), pybind::cast(o.stats)));
  return out;
}

// The parameter table, for Python tools (sweep names, defaults, help).
pybind::list parameter_table() {
  pybind::list out;
  for (const params::Param& p : params::table()) {
    pybind::dict d;
    d["name"] = p.name;
    d["group"] = params::group_name(p.group);
    d["kind"] = params::kind_name(p.kind);
    d["default"] = params::default_text(p);
    d["help"] = params::help(p);
    d["sweep"] = bool(p.use & params::kSweep);
    out.append(d);
  }
  return out;
}

pybind::list preset_table() {
  pybind::list out;
  for (const cli::Preset& p : cli::presets()) {
    pybind::dict d, values;
    for (const auto& [name, value] : p.values) values[name] = value;
    d["name"] = p.name;
    d["help"] = p.help;
    d["values"] = values;
    d["unquantized"] = cli::split_list(p.unquantized);
    out.append(d);
  }
  return out;
}

std::vector<std::string> kind_names() {
  std::vector<std::string> names;
  for (const LayerKindEntry& e : layer_kinds()) names.push_back(e.name);
  return names;
}

}  // namespace

}  // namespace mls::py

PYBIND11_MODULE(_mlssim, m) {
  using namespace mls::py;
  namespace py = pybind;
  m.doc() = "The MLS golden model (mlssim): quantizer and training passes";
  py::register_exception_translator([](std::exception_ptr e) {
    try {
      if (e) std::rethrow_exception(e);
    } catch (const mls::Error& err) {
      PyErr_SetString(PyExc_ValueError, err.what());
    }
  });
  m.def("quantize", &quantize_array, py::arg("x"), py::arg("name"), py::arg("kwargs"), py::arg("block_axis"),
        py::arg("random"), py::arg("threads"));
  m.def("layer_passes", &layer_passes, py::arg("kind"), py::arg("keys"), py::arg("passes"), py::arg("weight"),
        py::arg("input"), py::arg("grad_output"), py::arg("name"), py::arg("kwargs"), py::arg("preset"),
        py::arg("threads"), py::arg("default_groups") = false);
  m.def("parameters", &parameter_table, "the run parameters (sim/params): name, group, kind, default, help, sweep");
  m.def("presets", &preset_table, "the presets: name, help, values, unquantized");
  m.def("layer_kinds", &kind_names, "the layer kinds");
  m.def("conv_parameter_names", [] { return parameter_names(Command::conv); });
}
