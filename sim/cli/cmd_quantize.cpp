// mlssim quantize: the reference quantizer on one .npy tensor.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <iterator>

#include "ref/io/file_io.h"
#include "ref/core/error.h"
#include "ref/io/npy.h"
#include "ref/quant/quantizer.h"
#include "sim/cli/cli_options.h"
#include "sim/cli/commands.h"

namespace mls {

namespace {

const char* const kPartNames[] = {"sign.npy", "q.npy", "sg.npy", "sg_exp.npy", "sg_man.npy", "st.npy"};

// The files of --parts DIR, staged together with --dequant.
void stage_parts(OutputSet& out, const std::string& dir, const QuantTensor& q) {
  std::vector<int8_t> sign(q.sq.size());
  std::vector<int32_t> mag(q.sq.size());
  for (size_t i = 0; i < q.sq.size(); ++i) {
    sign[i] = q.sq[i] < 0;
    mag[i] = q.sq[i] < 0 ? -q.sq[i] : q.sq[i];
  }
  std::vector<double> sg;
  std::vector<int32_t> sg_exp, sg_man;
  for (GroupScale s : q.sg) {
    sg.push_back(group_scale_value(q.scale, s));
    sg_exp.push_back(s.exp);
    sg_man.push_back(s.man);
  }
  const Shape gshape = q.layout.group_shape();
  TensorF st(Shape{});
  st.data = {q.s_t};
  const std::string bytes[] = {npy_bytes(q.shape, sign), npy_bytes(q.shape, mag),
                               npy_bytes(gshape, sg),  // float64: e8m1 scales reach 2^-255
                               npy_bytes(gshape, sg_exp), npy_bytes(gshape, sg_man), npy_bytes(st)};
  out.make_dir(dir);
  for (size_t i = 0; i < std::size(kPartNames); ++i) out.stage(dir + "/" + kPartNames[i], bytes[i]);
}

void check_outputs(const std::string& dequant, const std::string& parts, const std::vector<std::string>& inputs) {
  if (!dequant.empty()) check_output_file("--dequant", dequant, inputs);
  if (!parts.empty())
    for (const char* part : kPartNames) {
      check_output_target("--parts", parts + "/" + part);
      check_output_not_input("--parts", parts + "/" + part, inputs);
    }
}

// --block-axis: only with a block grouping, and a dim of the tensor.
BlockAxis quantize_axis(const cli::po::variables_map& vm, int dim, const Shape& shape, const MlsConfig& cfg) {
  if (!vm.count("block-axis")) return default_block_axis(shape);
  if (!cfg.quant.weight.group.is_block())
    throw Error("--block-axis applies to a block grouping (--group kB), not --group " +
                to_string(cfg.quant.weight.group));
  if (dim < 0 || dim >= int(std::max<size_t>(shape.size(), 1)))
    throw Error("--block-axis " + std::to_string(dim) + " is not a dim of the tensor's shape " + shape_str(shape));
  return {dim, 0};
}

}  // namespace

int cmd_quantize(const std::vector<std::string>& args) {
  cli::ConfigFlags flags;
  std::string in, dequant, parts, random;
  int threads = 1, block_axis = -1;
  cli::po::options_description desc("quantize options");
  desc.add_options()
      ("in", cli::po::value(&in)->value_name("IN.npy")->required(), "input tensor (.npy, float16/32/64)")
      ("dequant", cli::po::value(&dequant), "write the dequantized tensor (float32 .npy)")
      ("parts", cli::po::value(&parts), "write sign, q, S_g (and its codes) and S_t as .npy files in DIR")
      ("random", cli::po::value(&random), "stochastic-rounding draws in [-0.5, 0.5), same shape (overrides --seed)")
      ("threads", cli::po::value(&threads)->default_value(1), "worker threads, [1, 256] (results do not depend on it)")
      ("block-axis", cli::po::value(&block_axis)->value_name("D"),
       "the dim a block grouping (--group kB) cuts into blocks of B (default 1; 0 for a rank-1 tensor)");
  cli::add_quant_options(desc, flags);
  cli::po::positional_options_description pos;
  pos.add("in", 1);
  cli::po::variables_map vm;
  if (!cli::parse(args, "usage: mlssim quantize IN.npy [options] --dequant OUT.npy [--parts DIR]", desc, pos, vm))
    return 0;
  if (dequant.empty() && parts.empty()) throw Error("nothing to write: give --dequant OUT.npy and/or --parts DIR");
  const MlsConfig cfg = cli::to_config(flags);
  cli::check_threads(threads);
  std::vector<std::string> inputs = {in};
  if (!random.empty()) inputs.push_back(random);
  check_outputs(dequant, parts, inputs);
  const TensorF x = read_npy(in);
  TensorF r;
  if (!random.empty()) r = read_npy(random);
  const std::string name = std::filesystem::path(in).stem().string();
  const QuantTensor q = quantize(x, name, cfg.quant.weight, quantize_axis(vm, block_axis, x.shape, cfg),
                                 random.empty() ? nullptr : &r, threads);
  const TensorF xq = dequantize(q);
  OutputSet out;
  if (!parts.empty()) stage_parts(out, parts, q);
  if (!dequant.empty()) out.stage(dequant, npy_bytes(xq));
  out.commit();
  std::cout << name << ": shape " << shape_str(x.shape) << ", " << q.elem.name() << " with "
            << q.scale.name() << " group scales (" << to_string(cfg.quant.weight.group)
            << (q.layout.group.is_block() && !x.shape.empty() ? " along dim " + std::to_string(q.layout.axis.dim) : "")
            << ", " << q.sg.size() << " groups), S_t = " << q.s_t << ", ARE = " << average_relative_error(x, xq) << "\n";
  return 0;
}

}  // namespace mls
