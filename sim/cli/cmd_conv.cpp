// mlssim conv: the golden MLS convolution arithmetic alone, no SystemC.
#include <iostream>
#include <memory>

#include "ref/workload/conv2d.h"
#include "ref/core/error.h"
#include "ref/io/file_io.h"
#include "ref/golden/golden_conv.h"
#include "ref/io/npy.h"
#include "sim/cli/cli_options.h"
#include "sim/cli/commands.h"
#include "sim/run/layer.h"

namespace mls {

int cmd_conv(const std::vector<std::string>& args) {
  cli::ConfigFlags flags;
  std::string pass_name, weight, input, grad_output, out, name = "conv";
  int stride = 1, padding = 0, dilation = 1;
  cli::po::options_description desc("conv options");
  desc.add_options()
      ("pass", cli::po::value(&pass_name)->required(), "fwd | bwd-data | bwd-weight")
      ("weight", cli::po::value(&weight)->required(), "weight [Co, Ci, Kh, Kw] (.npy)")
      ("input", cli::po::value(&input)->required(), "input activations [N, Ci, H, W] (.npy)")
      ("grad-output", cli::po::value(&grad_output), "output gradient [N, Co, Ho, Wo] (.npy), for backward passes")
      ("stride", cli::po::value(&stride)->default_value(1), "stride")
      ("padding", cli::po::value(&padding)->default_value(0), "zero padding")
      ("dilation", cli::po::value(&dilation)->default_value(1), "dilation")
      ("name", cli::po::value(&name)->default_value(name),
       "layer name: tensors are keyed <name>.weight etc. for stochastic rounding, as in a trace")
      ("out", cli::po::value(&out)->required(), "result tensor (float32 .npy)");
  cli::add_quant_options(desc, flags);
  cli::add_array_options(desc, flags);
  cli::po::variables_map vm;
  if (!cli::parse(args, "usage: mlssim conv --pass P --weight W.npy --input A.npy [--grad-output E.npy] --out OUT.npy",
                  desc, {}, vm))
    return 0;
  const MlsConfig cfg = cli::to_config(flags);
  const Pass pass = parse_pass(pass_name);
  if (pass != Pass::fwd && grad_output.empty()) throw Error("--pass " + pass_name + " needs --grad-output");
  std::vector<std::string> inputs = {weight, input};
  if (!grad_output.empty()) inputs.push_back(grad_output);
  check_output_file("--out", out, inputs);
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
  // The flags apply to both axes; the kind checks them against the shapes.
  bind_layer_kind(t, std::make_unique<Conv2d>(ConvParams{stride, stride, padding, padding, dilation, dilation}),
                  "layer '" + name + "'");
  const QuantLayer layer = quantize_layer(t, cfg.quant);
  const LoweredPass lp = lower_layer(layer, pass);
  const GoldenResult r = golden_pass(lp, layer.x(pass), layer.y(pass), cfg.array, Mapping::for_array(cfg.array));
  write_npy(out, r.out);
  std::cout << name << " " << pass_name << ": out " << shape_str(r.out.shape) << ", " << lp.macs()
            << " MACs, acc_overflow = " << r.acc_overflow << "\n";
  return 0;
}

}  // namespace mls
