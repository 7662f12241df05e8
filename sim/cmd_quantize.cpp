// mlssim quantize: the reference quantizer on one .npy tensor.
#include <filesystem>
#include <iostream>

#include "ref/atomic_write.h"
#include "ref/error.h"
#include "ref/npy.h"
#include "ref/quantizer.h"
#include "sim/cli_options.h"
#include "sim/commands.h"

namespace mls {

namespace {

// The files of --parts DIR, to be written together with --dequant.
std::vector<PendingFile> parts_files(const std::string& dir, const QuantTensor& q) {
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
  return {{dir + "/sign.npy", npy_bytes(q.shape, sign)},
          {dir + "/q.npy", npy_bytes(q.shape, mag)},
          {dir + "/sg.npy", npy_bytes(gshape, sg)},  // float64: e8m1 scales reach 2^-255
          {dir + "/sg_exp.npy", npy_bytes(gshape, sg_exp)},
          {dir + "/sg_man.npy", npy_bytes(gshape, sg_man)},
          {dir + "/st.npy", npy_bytes(st)}};
}

// Writes every output or none; a parts directory made here goes again on failure.
void write_outputs(const std::vector<PendingFile>& files, const std::string& parts_dir) {
  bool made_dir = false;
  if (!parts_dir.empty()) {
    std::error_code ec;
    made_dir = std::filesystem::create_directories(parts_dir, ec);
    if (ec) throw Error(parts_dir + ": cannot create directory: " + ec.message());
  }
  try {
    write_files_atomic(files);
  } catch (const Error&) {
    if (made_dir) std::filesystem::remove(parts_dir);
    throw;
  }
}

}  // namespace

int cmd_quantize(const std::vector<std::string>& args) {
  cli::ConfigFlags flags;
  std::string in, dequant, parts, random;
  int threads = 1;
  cli::po::options_description desc("quantize options");
  desc.add_options()
      ("in", cli::po::value(&in)->required(), "input tensor (.npy, float16/32/64)")
      ("dequant", cli::po::value(&dequant), "write the dequantized tensor (float32 .npy)")
      ("parts", cli::po::value(&parts), "write sign, q, S_g (and its codes) and S_t as .npy files in DIR")
      ("random", cli::po::value(&random), "stochastic-rounding draws in [-0.5, 0.5), same shape (overrides --seed)")
      ("threads", cli::po::value(&threads)->default_value(1), "worker threads (results do not depend on it)");
  cli::add_quant_options(desc, flags);
  cli::po::positional_options_description pos;
  pos.add("in", 1);
  cli::po::variables_map vm;
  if (!cli::parse(args, "usage: mlssim quantize IN.npy [options] --dequant OUT.npy [--parts DIR]", desc, pos, vm))
    return 0;
  if (dequant.empty() && parts.empty()) throw Error("nothing to write: give --dequant OUT.npy and/or --parts DIR");
  const MlsConfig cfg = cli::to_config(flags);
  const TensorF x = read_npy(in);
  TensorF r;
  if (!random.empty()) r = read_npy(random);
  const std::string name = std::filesystem::path(in).stem().string();
  const QuantTensor q = quantize(x, name, cfg.quant, random.empty() ? nullptr : &r, threads);
  const TensorF xq = dequantize(q);
  std::vector<PendingFile> files;
  if (!parts.empty()) files = parts_files(parts, q);
  if (!dequant.empty()) files.push_back({dequant, npy_bytes(xq)});
  write_outputs(files, parts);
  std::cout << name << ": shape " << shape_str(x.shape) << ", " << cfg.quant.elem.name() << " with "
            << cfg.quant.scale.name() << " group scales (" << to_string(cfg.quant.group) << ", " << q.sg.size()
            << " groups), S_t = " << q.s_t << ", ARE = " << average_relative_error(x, xq) << "\n";
  return 0;
}

}  // namespace mls
