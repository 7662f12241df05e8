// mlssim conv: the golden MLS arithmetic of one layer-pass alone, no SystemC,
// for any layer kind (--kind).
#include <algorithm>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "ref/core/error.h"
#include "ref/io/file_io.h"
#include "ref/golden/golden_conv.h"
#include "ref/io/npy.h"
#include "ref/workload/layer_kind.h"
#include "sim/cli/cli_options.h"
#include "sim/cli/commands.h"
#include "sim/run/layer.h"

namespace mls {

namespace {

struct KindFlags {
  std::string kind = kDefaultLayerKind;
  int stride = 1, padding = 0, dilation = 1, groups = 1, output_padding = 0;
};

// The kind from the registry, given the manifest entry the flags stand for; a
// flag the kind does not read must keep its default.
std::unique_ptr<LayerKind> kind_from_flags(const KindFlags& f, const std::string& where) {
  const LayerKindEntry& entry = find_layer_kind(f.kind, "--kind");
  const std::vector<std::pair<std::string, std::pair<int, int>>> flags = {
      {"stride", {f.stride, 1}}, {"padding", {f.padding, 0}}, {"dilation", {f.dilation, 1}},
      {"groups", {f.groups, 1}}, {"output_padding", {f.output_padding, 0}}};
  nlohmann::json manifest = nlohmann::json::object();
  for (const auto& [key, value] : flags) {
    if (std::find(entry.keys.begin(), entry.keys.end(), key) != entry.keys.end()) manifest[key] = value.first;
    else if (value.first != value.second) {
      std::string flag = key;
      std::replace(flag.begin(), flag.end(), '_', '-');
      throw Error("--" + flag + " does not apply to --kind " + f.kind);
    }
  }
  return entry.from_manifest(manifest, where);
}

// The layer's tensors as --weight, --input and --grad-output name them.
LayerTensors read_layer_tensors(const std::string& name, const std::string& weight, const std::string& input,
                                const std::string& grad_output) {
  LayerTensors t;
  t.name = name;
  t.weight = read_npy(weight);
  t.input = read_npy(input);
  t.weight_file = weight;
  t.input_file = input;
  if (!grad_output.empty()) {
    t.grad_output = read_npy(grad_output);
    t.grad_output_file = grad_output;
  }
  return t;
}

// The pass through the golden model, block by block, into its natural result.
struct GoldenConv {
  TensorF result;
  int64_t macs = 0;
  uint64_t overflow = 0;
};

GoldenConv golden_conv(const QuantLayer& layer, Pass pass, const ArrayConfig& array) {
  GoldenConv g;
  const OperandBounds bounds = operand_bounds(layer.x(pass), layer.y(pass));  // once, not per block
  for (int64_t b = 0; b < pass_blocks(layer, pass, array.bwd_data); ++b) {
    const BlockPass block = lower_block(layer, pass, b, array.bwd_data);
    if (b == 0) g.result = TensorF(block.natural_shape);
    const GoldenResult r = golden_pass(block.lp, layer.x(pass), layer.y(pass), array, bounds);
    scatter_block(r.out, block, g.result);
    g.macs += block.lp.macs();
    g.overflow += r.acc_overflow;
  }
  return g;
}

// "layer kind: conv2d | ... (docs/layers.md)", from the registry, so a new kind
// needs no line here.
const std::string& kind_help() {
  static const std::string help = [] {
    std::string names;
    for (const LayerKindEntry& k : layer_kinds()) names += (names.empty() ? "" : " | ") + k.name;
    return "layer kind: " + names + " (docs/layers.md)";
  }();
  return help;
}

}  // namespace

int cmd_conv(const std::vector<std::string>& args) {
  cli::ConfigFlags flags;
  std::string pass_name, weight, input, grad_output, out, name = "conv";
  KindFlags kf;
  cli::po::options_description desc("conv options");
  desc.add_options()
      ("pass", cli::po::value(&pass_name)->required(), "fwd | bwd-data | bwd-weight")
      ("kind", cli::po::value(&kf.kind)->default_value(kf.kind), kind_help().c_str())
      ("weight", cli::po::value(&weight)->required(),
       "weight (.npy): conv2d [Co, Ci/groups, Kh, Kw], linear [out, in], matmul the second operand [..., K, N]")
      ("input", cli::po::value(&input)->required(),
       "input (.npy): conv [N, Ci, H, W], linear [..., in], matmul the first operand [..., M, K]")
      ("grad-output", cli::po::value(&grad_output), "output gradient (.npy), for backward passes")
      ("stride", cli::po::value(&kf.stride)->default_value(1), "stride (conv kinds)")
      ("padding", cli::po::value(&kf.padding)->default_value(0), "zero padding (conv kinds)")
      ("dilation", cli::po::value(&kf.dilation)->default_value(1), "dilation (conv kinds)")
      ("groups", cli::po::value(&kf.groups)->default_value(1), "groups (conv kinds)")
      ("output-padding", cli::po::value(&kf.output_padding)->default_value(0), "output padding (conv_transpose2d)")
      ("name", cli::po::value(&name)->default_value(name),
       "layer name: tensors are keyed <name>.weight etc. for stochastic rounding, as in a trace")
      ("out", cli::po::value(&out)->required(), "result tensor (float32 .npy)");
  cli::add_quant_options(desc, flags);
  cli::add_operand_options(desc, flags);
  cli::add_preset_option(desc, flags);
  cli::add_array_options(desc, flags);
  cli::po::variables_map vm;
  if (!cli::parse(args, "usage: mlssim conv --pass P --weight W.npy --input A.npy [--grad-output E.npy] --out OUT.npy",
                  desc, {}, vm))
    return 0;
  cli::print_preset_overrides(flags, cli::apply_preset(vm, flags));
  const MlsConfig cfg = cli::to_config(flags);
  const Pass pass = parse_pass(pass_name);
  if (pass != Pass::fwd && grad_output.empty()) throw Error("--pass " + pass_name + " needs --grad-output");
  std::vector<std::string> inputs = {weight, input};
  if (!grad_output.empty()) inputs.push_back(grad_output);
  check_output_file("--out", out, inputs);
  LayerTensors t = read_layer_tensors(name, weight, input, grad_output);
  // The flags apply to both axes; the kind checks them against the shapes.
  const std::string where = "layer '" + name + "'";
  bind_layer_kind(t, kind_from_flags(kf, where), where);
  const QuantLayer layer = quantize_layer(t, cfg.quant);
  if (!layer.has_pass(pass)) throw Error("--pass " + pass_name + " needs --grad-output");
  const GoldenConv r = golden_conv(layer, pass, cfg.array);
  const TensorF& result = r.result;
  const int64_t macs = r.macs;
  const uint64_t overflow = r.overflow;
  write_npy(out, result);
  std::cout << name << " " << pass_name << ": out " << shape_str(result.shape) << ", " << macs
            << " MACs, acc_overflow = " << overflow << "\n";
  return 0;
}

}  // namespace mls
