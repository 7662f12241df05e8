// mlssim vectors: one layer-pass's operand codes, group-scale codes and golden
// results at every level the RTL produces (chunk sums, overflows, scaled
// chunks, tree outputs, output accumulators), as plain text files for the
// Verilator testbench (docs/rtl.md#test-vectors).
//
// The golden numbers come from ref/golden's level walk (golden_levels.h:
// accumulate, scale_chunk, tree_reduce in the Mapping's order, held against
// golden_pass() bit for bit). The files are streamed, never held whole: a
// ResNet-18 layer's vectors are hundreds of MB.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <sstream>
#include <vector>

#include "ref/core/activity.h"
#include "ref/core/error.h"
#include "ref/golden/golden_conv.h"
#include "ref/golden/golden_levels.h"
#include "ref/io/file_io.h"
#include "ref/mapping/mapping.h"
#include "sim/cli/cli_options.h"
#include "sim/cli/commands.h"
#include "sim/io/trace.h"
#include "sim/run/layer.h"
#include "sim/run/layer_config.h"

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

// A vector file written as it is made, through a stdio buffer, to a temporary
// file of the output set (renamed into place at commit): memory stays bounded
// whatever the file's size.
class VectorFile {
 public:
  VectorFile(OutputSet& set, const std::string& path) : path_(path) {
    const std::string temp = set.stage_external(path);
    f_ = std::fopen(temp.c_str(), "w");
    if (!f_) throw Error(path + ": cannot write: " + std::strerror(errno));
  }
  ~VectorFile() {
    if (f_) std::fclose(f_);
  }
  VectorFile(const VectorFile&) = delete;
  VectorFile& operator=(const VectorFile&) = delete;

  std::FILE* get() { return f_; }
  // Stops at the first failed write (a full disk), not after the whole pass.
  void check() {
    if (std::ferror(f_)) throw Error(path_ + ": cannot write: " + std::strerror(errno));
  }
  void close() {
    check();
    const int rc = std::fclose(f_);
    f_ = nullptr;
    if (rc != 0) throw Error(path_ + ": cannot write: " + std::strerror(errno));
  }

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
};

// One line per (row, group): the group-scale code, then the K element codes
// (a zero tap is code 0). `row` fills one row's groups and indices.
void write_operand_file(VectorFile& file, const QuantTensor& t, const RowFill& row, int64_t rows,
                        const LoweredPass& lp) {
  std::vector<int32_t> groups(size_t(lp.g)), index(size_t(lp.g * lp.k));
  for (int64_t r = 0; r < rows; ++r) {
    row(r, groups.data(), index.data());
    for (int64_t g = 0; g < lp.g; ++g) {
      std::fprintf(file.get(), "%x", scale_code(t.scale, t.sg[size_t(groups[size_t(g)])]));
      for (int64_t k = 0; k < lp.k; ++k) {
        const int32_t i = index[size_t(g * lp.k + k)];
        std::fprintf(file.get(), " %x", i < 0 ? 0u : elem_code(t.elem, t.sq[size_t(i)]));
      }
      std::fputc('\n', file.get());
    }
    file.check();
  }
}

// The golden model's levels (ref/golden/golden_levels.h) as three text files.
class LevelFiles : public GoldenLevelSink {
 public:
  LevelFiles(OutputSet& set, const std::string& dir)
      : chunks(set, dir + "/chunks.txt"), tiles(set, dir + "/tiles.txt"), outputs(set, dir + "/outputs.txt") {}

  void chunk(int64_t m, int64_t p, int64_t j, int64_t sum, uint64_t overflows, float scaled) override {
    std::fprintf(chunks.get(), "%lld %lld %lld %lld %llu %08x\n", ll(m), ll(p), ll(j), ll(sum),
                 static_cast<unsigned long long>(overflows), float_bits(scaled));
  }
  void tile(int64_t m, int64_t p, int64_t tile, float value) override {
    std::fprintf(tiles.get(), "%lld %lld %lld %08x\n", ll(m), ll(p), ll(tile), float_bits(value));
  }
  void output(int64_t m, int64_t p, float accumulator, float result) override {
    std::fprintf(outputs.get(), "%lld %lld %08x %08x\n", ll(m), ll(p), float_bits(accumulator), float_bits(result));
    chunks.check();
  }
  void close() {
    chunks.close();
    tiles.close();
    outputs.close();
  }

 private:
  static long long ll(int64_t v) { return static_cast<long long>(v); }
  VectorFile chunks, tiles, outputs;
};

// `map`: the pass's own mapping (Mapping::for_pass), whose chunk may be
// shorter than the array's --chunk when the pass fills idle rows: the
// controller walks chunks of `chunk` (meta key), not of `array_chunk`.
std::string meta_file(const std::string& layer, Pass pass, const LoweredPass& lp, const QuantTensor& x,
                      const QuantTensor& y, const ArrayConfig& a, const Mapping& map) {
  const LoopNest nest = map.loop_nest(lp.m, lp.p, map.chunk_plan(lp.k, lp.g));
  std::ostringstream os;
  os << "format mlssim-vectors/1\n"
     << "layer " << layer << "\npass " << to_string(pass) << "\n"
     << "x_elem " << x.elem.name() << "\ny_elem " << y.elem.name() << "\n"
     << "x_scale " << x.scale.name() << "\ny_scale " << y.scale.name() << "\n"
     << "acc_bits " << a.acc_bits << "\nacc_overflow " << (a.acc_overflow == Overflow::wrap ? "wrap" : "saturate")
     << "\nrows " << a.rows << "\nchunk " << nest.plan.chunk << "\narray_chunk " << a.chunk
     << "\nfill_rows " << (lp.fill_rows ? "balanced" : map.fills_rows() ? "plain" : "none") << "\n"
     << "m " << lp.m << "\np " << lp.p << "\ng " << lp.g << "\nk " << lp.k << "\n"
     << "chunks " << nest.plan.total << "\nchunk_tiles " << nest.chunk_tiles << "\n"
     // The array's shape and the schedule's loop bounds (the RTL array's controller inputs).
     << "cols " << a.cols << "\ndataflow " << to_string(map.dataflow()) << "\ntree_stages "
     << a.effective_tree_stages() << "\nm_tiles " << nest.m_tiles << "\nchunks_per_group " << nest.plan.per_group
     << "\nlast_chunk " << nest.plan.length(nest.plan.per_group - 1) << "\n"
     << "final_scale " << hex(float_bits(final_scale_factor(x.s_t, y.s_t, x.elem, y.elem)), 8) << "\n";
  return os.str();
}

struct VectorArgs {
  std::string trace_dir, layers, passes, out_dir;
  MlsConfig cfg;
  bool group_given = false;  // no grouping flag: run's default groupings (k32 on linear, matmul, 1x1 conv)
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
  cli::add_operand_options(desc, flags);  // per-operand formats: the RTL's X and Y may differ
  cli::add_array_options(desc, flags);
  cli::po::positional_options_description pos;
  pos.add("trace", 1);
  cli::po::variables_map vm;
  if (!cli::parse(args, "usage: mlssim vectors TRACE_DIR --layers NAME --passes P --out DIR [format and array flags]",
                  desc, pos, vm))
    return false;
  a.cfg = cli::to_config(flags);
  a.group_given = cli::grouping_given(vm, flags);
  if (cli::split_list(a.layers).size() != 1) throw Error("--layers must name exactly one layer, got '" + a.layers + "'");
  if (cli::split_list(a.passes).size() != 1) throw Error("--passes must name exactly one pass, got '" + a.passes + "'");
  return true;
}

// One block's vector set in `dir` (staged in `outputs`): meta.txt, the operands
// and the golden levels, walked in the pass's own mapping.
void write_vector_set(OutputSet& outputs, const std::string& dir, const std::string& meta,
                      const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y, const ArrayConfig& array,
                      const Mapping& map, const std::string& where) {
  outputs.make_dir(dir);
  outputs.stage(dir + "/meta.txt", meta);
  VectorFile x_file(outputs, dir + "/x.txt"), y_file(outputs, dir + "/y.txt");
  const RowFill x_row = [&lp](int64_t r, int32_t* groups, int32_t* index) {  // X's stored tables
    std::copy_n(lp.x_group.begin() + r * lp.g, lp.g, groups);
    std::copy_n(lp.x_index.begin() + r * lp.g * lp.k, lp.g * lp.k, index);
  };
  write_operand_file(x_file, x, x_row, lp.m, lp);
  write_operand_file(y_file, y, lp.y_row, lp.p, lp);
  x_file.close();
  y_file.close();
  LevelFiles levels(outputs, dir);
  const uint64_t overflows = walk_golden_levels(lp, x, y, array, map, levels, where);
  levels.close();
  std::cout << where << ": m " << lp.m << ", p " << lp.p << ", g " << lp.g << ", k " << lp.k << ", chunk "
            << map.chunk_for(lp.k, lp.g) << ", " << overflows << " accumulator overflows; vectors in " << dir << "\n";
}

// The quantized layer as `run` quantizes it: the layer's default grouping
// unless a grouping flag is given.
QuantLayer quantize_as_run(const VectorArgs& a, const Trace& trace, const LayerTensors& t) {
  const std::map<std::string, Grouping> defaults =
      a.group_given ? std::map<std::string, Grouping>{} : default_groupings(trace.layers);
  return quantize_layer(t, layer_formats(t.name, a.cfg.quant, {}, defaults));
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
  check_output_not_input("--out", a.out_dir + "/blocks.txt", inputs);

  const QuantLayer layer = quantize_as_run(a, trace, t);
  const std::string where = "layer '" + layer_name + "' pass " + to_string(pass);
  if (!layer.has_pass(pass)) throw Error(where + ": the trace has no grad_output for this layer");
  const QuantTensor &x = layer.x(pass), &y = layer.y(pass);

  // Nothing is renamed into place until every file is complete and each walk
  // has matched golden_pass; the files are written as the walk goes. A pass
  // of several blocks (run simulates each as a pass of its own and sums the
  // cycles) gets one set per block, DIR/block<b>, and DIR/blocks.txt.
  const Doing doing("writing the vectors of " + where + " to " + a.out_dir);
  const BwdData bwd_data = a.cfg.array.bwd_data;
  const int64_t blocks = pass_blocks(layer, pass, bwd_data);
  OutputSet outputs;
  outputs.make_dir(a.out_dir);
  if (blocks > 1) outputs.stage(a.out_dir + "/blocks.txt", "blocks " + std::to_string(blocks) + "\n");
  for (int64_t b = 0; b < blocks; ++b) {
    // lower_block marks a block-grouped pass for row filling, as in run.
    const LoweredPass lp = lower_block(layer, pass, b, bwd_data).lp;
    const Mapping map = Mapping::for_pass(a.cfg.array, pass, lp.fill_rows);
    std::string meta = meta_file(layer_name, pass, lp, x, y, a.cfg.array, map);
    if (blocks > 1) meta += "block " + std::to_string(b) + "\nblocks " + std::to_string(blocks) + "\n";
    const std::string dir = blocks > 1 ? a.out_dir + "/block" + std::to_string(b) : a.out_dir;
    write_vector_set(outputs, dir, meta, lp, x, y, a.cfg.array, map,
                     blocks > 1 ? where + " block " + std::to_string(b) : where);
  }
  outputs.commit();
  return 0;
}

}  // namespace mls
