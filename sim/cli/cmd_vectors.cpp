// mlssim vectors: one layer-pass's operand codes, group-scale codes and golden
// results at every level the RTL produces (chunk sums, overflows, scaled
// chunks, tree outputs, output accumulators), as plain text files for the
// Verilator testbench (docs/rtl.md#test-vectors).
//
// The golden numbers come from ref/golden's own functions (accumulate,
// scale_chunk, tree_reduce) walked in the Mapping's order; the walk is held
// against golden_pass() bit for bit before anything is written.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>

#include "ref/core/error.h"
#include "ref/golden/golden_conv.h"
#include "ref/io/file_io.h"
#include "ref/mapping/mapping.h"
#include "sim/cli/cli_options.h"
#include "sim/cli/commands.h"
#include "sim/io/trace.h"
#include "sim/run/layer.h"

namespace mls {

namespace {

// The files of one vector set, in DIR.
constexpr const char* kVectorFiles[] = {"meta.txt", "x.txt", "y.txt", "chunks.txt", "tiles.txt", "outputs.txt"};

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

std::string hex(uint64_t v, int digits = 0) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%0*llx", digits, static_cast<unsigned long long>(v));
  return buf;
}

// A group-scale code as the RTL reads it: {neg_exp, man}, S_g = (1 + man/2^M_g) * 2^-neg_exp.
uint32_t scale_code(const ScaleFormat& fmt, GroupScale s) {
  return (uint32_t(-s.exp) << fmt.m) | s.man;
}

uint32_t elem_code(const ElemFormat& fmt, int32_t sq) {
  return pack(fmt, encode_q(fmt, sq < 0 ? -int64_t(sq) : sq, sq < 0));
}

// One line per (row, group): the group-scale code, then the K element codes
// (a zero tap is code 0). `index` and `groups` are the lowering's tables.
std::string operand_file(const QuantTensor& t, const std::vector<int32_t>& index, const std::vector<int32_t>& groups,
                         int64_t rows, const LoweredPass& lp) {
  std::ostringstream os;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < lp.g; ++g) {
      os << hex(scale_code(t.scale, t.sg[size_t(groups[size_t(r * lp.g + g)])]));
      for (int64_t k = 0; k < lp.k; ++k) {
        const int32_t i = index[size_t((r * lp.g + g) * lp.k + k)];
        os << ' ' << hex(i < 0 ? 0 : elem_code(t.elem, t.sq[size_t(i)]));
      }
      os << '\n';
    }
  return os.str();
}

// The golden model's intermediate results, in the order of its reduction.
struct GoldenLevels {
  std::ostringstream chunks, tiles, outputs;
  uint64_t overflows = 0;
};

// Walks outputs m-major (each output's tiles in ascending order, as every
// column of the array does) and checks each final result against golden_pass.
void golden_levels(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y, const ArrayConfig& array,
                   const std::string& where, GoldenLevels& out) {
  const Mapping map = Mapping::for_array(array);
  const LoopNest nest = map.loop_nest(lp.m, lp.p, map.chunk_plan(lp.k, lp.g));
  const GoldenResult reference = golden_pass(lp, x, y, array, map);
  const RowTables yt = y_tables(lp);  // a vector set's pass is small: Y stored whole
  const float f = final_scale_factor(x.s_t, y.s_t, x.elem, y.elem);
  const int slots = map.tree_slots();
  std::vector<float> slot(size_t(slots), 0.0f);
  std::unique_ptr<bool[]> slot_valid(new bool[size_t(slots)]);
  for (int64_t m = 0; m < lp.m; ++m)
    for (int64_t p = 0; p < lp.p; ++p) {
      float acc = 0.0f;
      for (int64_t tile = 0; tile < nest.chunk_tiles; ++tile) {
        for (int s = 0; s < slots; ++s) {
          const int64_t j = map.chunk_at(nest, tile, s);
          slot_valid[size_t(s)] = j >= 0;
          if (j < 0) continue;
          const int64_t g = nest.plan.group_of(j), k0 = nest.plan.k_begin(j);
          int64_t sum = 0;
          uint64_t ovf = 0;
          for (int64_t k = k0; k < k0 + nest.plan.length(j); ++k) {
            const int32_t xi = lp.x_index[size_t((m * lp.g + g) * lp.k + k)];
            const int32_t yi = yt.index[size_t((p * lp.g + g) * lp.k + k)];
            const int64_t prod = xi < 0 || yi < 0 ? 0 : int64_t(x.sq[size_t(xi)]) * y.sq[size_t(yi)];
            sum = accumulate(sum, prod, array.acc_bits, array.acc_overflow, ovf);
          }
          slot[size_t(s)] = scale_chunk(sum, x.sg[size_t(lp.x_group[size_t(m * lp.g + g)])],
                                        y.sg[size_t(yt.groups[size_t(p * lp.g + g)])], x.scale, y.scale);
          out.overflows += ovf;
          out.chunks << m << ' ' << p << ' ' << j << ' ' << sum << ' ' << ovf << ' '
                     << hex(float_bits(slot[size_t(s)]), 8) << '\n';
        }
        uint64_t adds = 0;
        const float t = tree_reduce(slot.data(), slot_valid.get(), slots, adds);
        out.tiles << m << ' ' << p << ' ' << tile << ' ' << hex(float_bits(t), 8) << '\n';
        acc = acc + t;
      }
      const float result = acc * f;
      const float expected = reference.out.data[size_t(lp.out_at(m * lp.p + p))];
      if (float_bits(result) != float_bits(expected))
        throw Error(where + ": internal: the level-by-level walk disagrees with golden_pass at m = " +
                    std::to_string(m) + ", p = " + std::to_string(p));
      out.outputs << m << ' ' << p << ' ' << hex(float_bits(acc), 8) << ' ' << hex(float_bits(result), 8) << '\n';
    }
  if (out.overflows != reference.acc_overflow)
    throw Error(where + ": internal: the walk counts " + std::to_string(out.overflows) +
                " accumulator overflows, golden_pass " + std::to_string(reference.acc_overflow));
}

std::string meta_file(const std::string& layer, Pass pass, const LoweredPass& lp, const QuantTensor& x,
                      const QuantTensor& y, const ArrayConfig& a) {
  const Mapping map = Mapping::for_array(a);
  const LoopNest nest = map.loop_nest(lp.m, lp.p, map.chunk_plan(lp.k, lp.g));
  std::ostringstream os;
  os << "format mlssim-vectors/1\n"
     << "layer " << layer << "\npass " << to_string(pass) << "\n"
     << "x_elem " << x.elem.name() << "\ny_elem " << y.elem.name() << "\n"
     << "x_scale " << x.scale.name() << "\ny_scale " << y.scale.name() << "\n"
     << "acc_bits " << a.acc_bits << "\nacc_overflow " << (a.acc_overflow == Overflow::wrap ? "wrap" : "saturate")
     << "\nrows " << a.rows << "\nchunk " << a.chunk << "\n"
     << "m " << lp.m << "\np " << lp.p << "\ng " << lp.g << "\nk " << lp.k << "\n"
     << "chunks " << nest.plan.total << "\nchunk_tiles " << nest.chunk_tiles << "\n"
     << "final_scale " << hex(float_bits(final_scale_factor(x.s_t, y.s_t, x.elem, y.elem)), 8) << "\n";
  return os.str();
}

struct VectorArgs {
  std::string trace_dir, layers, passes, out_dir;
  MlsConfig cfg;
};

// Returns false when --help was asked for.
bool parse_vector_args(const std::vector<std::string>& args, VectorArgs& a) {
  cli::ConfigFlags flags;
  cli::po::options_description desc("vectors options");
  desc.add_options()
      ("trace", cli::po::value(&a.trace_dir)->value_name("TRACE_DIR")->required(), "trace directory (manifest.json + .npy)")
      ("layers", cli::po::value(&a.layers)->required(), "the one layer to write")
      ("passes", cli::po::value(&a.passes)->required(), "the one pass to write: fwd, bwd-data or bwd-weight")
      ("out", cli::po::value(&a.out_dir)->required(), "directory of the vector files (created if missing)");
  cli::add_quant_options(desc, flags);
  cli::add_array_options(desc, flags);
  cli::po::positional_options_description pos;
  pos.add("trace", 1);
  cli::po::variables_map vm;
  if (!cli::parse(args, "usage: mlssim vectors TRACE_DIR --layers NAME --passes P --out DIR [format and array flags]",
                  desc, pos, vm))
    return false;
  a.cfg = cli::to_config(flags);
  if (cli::split_list(a.layers).size() != 1) throw Error("--layers must name exactly one layer, got '" + a.layers + "'");
  if (cli::split_list(a.passes).size() != 1) throw Error("--passes must name exactly one pass, got '" + a.passes + "'");
  return true;
}

}  // namespace

int cmd_vectors(const std::vector<std::string>& args) {
  VectorArgs a;
  if (!parse_vector_args(args, a)) return 0;
  const std::string layer_name = cli::split_list(a.layers)[0];
  const Pass pass = parse_pass(cli::split_list(a.passes)[0]);
  const Trace trace = load_trace(a.trace_dir, {layer_name});
  const LayerTensors& t = trace.layers.at(0);
  std::vector<std::string> inputs = {trace.dir + "/manifest.json", t.weight_file, t.input_file};
  if (t.grad_output) inputs.push_back(t.grad_output_file);
  for (const char* name : kVectorFiles) check_output_not_input("--out", a.out_dir + "/" + name, inputs);

  const QuantLayer layer = quantize_layer(t, a.cfg.quant);
  const std::string where = "layer '" + layer_name + "' pass " + to_string(pass);
  if (!layer.has_pass(pass)) throw Error(where + ": the trace has no grad_output for this layer");
  if (pass_blocks(layer, pass) != 1)
    throw Error(where + ": runs as " + std::to_string(pass_blocks(layer, pass)) +
                " blocks; vectors supports single-block passes only");
  const LoweredPass lp = lower_layer(layer, pass);
  const QuantTensor &x = layer.x(pass), &y = layer.y(pass);
  // The RTL scaler (rtl/src/mls_group_scaler.sv) is the shift-add form only.
  for (const QuantTensor* t : {&x, &y})
    if (t->scale.m > 1)
      throw Error(where + ": " + t->name + " has group-scale format " + t->scale.name() +
                  "; the RTL group scaler takes M_g <= 1 only (e.g. e8m1, e8m0)");

  GoldenLevels levels;
  golden_levels(lp, x, y, a.cfg.array, where, levels);

  // Nothing is written until every file is ready.
  OutputSet outputs;
  outputs.make_dir(a.out_dir);
  outputs.stage(a.out_dir + "/meta.txt", meta_file(layer_name, pass, lp, x, y, a.cfg.array));
  outputs.stage(a.out_dir + "/x.txt", operand_file(x, lp.x_index, lp.x_group, lp.m, lp));
  const RowTables yt = y_tables(lp);
  outputs.stage(a.out_dir + "/y.txt", operand_file(y, yt.index, yt.groups, lp.p, lp));
  outputs.stage(a.out_dir + "/chunks.txt", levels.chunks.str());
  outputs.stage(a.out_dir + "/tiles.txt", levels.tiles.str());
  outputs.stage(a.out_dir + "/outputs.txt", levels.outputs.str());
  outputs.commit();
  std::cout << where << ": m " << lp.m << ", p " << lp.p << ", g " << lp.g << ", k " << lp.k << ", "
            << levels.overflows << " accumulator overflows; vectors in " << a.out_dir << "\n";
  return 0;
}

}  // namespace mls
