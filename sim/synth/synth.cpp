#include "sim/synth/synth.h"

#include <stdlib.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "ref/core/error.h"
#include "ref/core/rng.h"
#include "ref/io/file_io.h"
#include "ref/io/npy.h"
#include "sim/io/json_file.h"

namespace mls::synth {

namespace fs = std::filesystem;

namespace {

// Standard normal draws by Box-Muller from two counter-based uniforms, so
// draw i depends on (seed, stream, i) only.
class NormalStream {
 public:
  NormalStream(uint64_t seed, const std::string& stream) : rng_(seed, stream) {}
  double operator()(uint64_t i) const {
    const double u1 = 0.5 - double(rng_.at(2 * i));  // (0, 1]: the log is finite
    const double u2 = double(rng_.at(2 * i + 1)) + 0.5;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }
  // Uniform in [0, 1).
  double uniform(uint64_t i) const { return double(rng_.at(i)) + 0.5; }

 private:
  CounterRng rng_;
};

// Where a tensor's channels are: dim 1 of a conv tensor [N, C, H, W], the
// last dim (the features) of a linear or matmul tensor.
struct Layout {
  int64_t size = 1, batch = 1, channels = 1, inner = 1;  // flat i: n = i / (size / batch), c = (i / inner) % channels
  int64_t sample(int64_t i) const { return i / (size / batch); }
  int64_t channel(int64_t i) const { return (i / inner) % channels; }
};

Layout layout_of(const Shape& shape, bool conv) {
  Layout l;
  for (int64_t d : shape) l.size *= d;
  l.batch = shape[0];
  if (conv) {
    l.channels = shape[1];
    l.inner = l.size / (shape[0] * shape[1]);
  } else {
    l.channels = shape.back();
    l.inner = 1;
  }
  return l;
}

// Per-channel scales exp(kChannelSigma * z): log-normal, median 1.
std::vector<double> channel_scales(uint64_t seed, const std::string& stream, int64_t channels) {
  const NormalStream z(seed, stream);
  std::vector<double> s(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) s[size_t(c)] = std::exp(kChannelSigma * z(uint64_t(c)));
  return s;
}

// He-scaled weights: N(0, 2 / fan_in), fan_in = the products each output sums
// (Ci/groups * Kh * Kw, or a linear layer's inputs).
TensorF he_weight(const Shape& shape, int64_t fan_in, uint64_t seed, const std::string& name) {
  TensorF t(shape);
  const NormalStream z(seed, name);
  const double std_dev = std::sqrt(2.0 / double(fan_in));
  for (int64_t i = 0; i < t.size(); ++i) t.data[size_t(i)] = float(std_dev * z(uint64_t(i)));
  return t;
}

// The products each output of a weight [out, ...] sums: its dims after the first.
int64_t fan_in(const Shape& weight) {
  int64_t n = 1;
  for (size_t d = 1; d < weight.size(); ++d) n *= weight[d];
  return n;
}

// Activations: c_ch * z, rectified (ReLU: half the values 0, the others
// half-normal) unless `signed_values`.
TensorF activation(const Shape& shape, bool conv, bool relu, uint64_t seed, const std::string& name) {
  TensorF t(shape);
  const Layout l = layout_of(shape, conv);
  const std::vector<double> scale = channel_scales(seed, name + "#channel", l.channels);
  const NormalStream z(seed, name);
  for (int64_t i = 0; i < t.size(); ++i) {
    const double v = scale[size_t(l.channel(i))] * z(uint64_t(i));
    t.data[size_t(i)] = float(relu ? std::max(0.0, v) : v);
  }
  return t;
}

// Errors: s_n * c_ch * z. The per-sample scale s_n = 10^-u_n spreads the
// samples over kErrorDecades decades (u_n stratified: sample n draws in
// [n, n+1) * kErrorDecades / N), as per-sample losses do late in training.
TensorF error(const Shape& shape, bool conv, uint64_t seed, const std::string& name) {
  TensorF t(shape);
  const Layout l = layout_of(shape, conv);
  const std::vector<double> scale = channel_scales(seed, name + "#channel", l.channels);
  const NormalStream draws(seed, name + "#sample");
  std::vector<double> sample(static_cast<size_t>(l.batch));
  for (int64_t n = 0; n < l.batch; ++n)
    sample[size_t(n)] =
        std::pow(10.0, -kErrorDecades * (double(n) + draws.uniform(uint64_t(n))) / double(l.batch));
  const NormalStream z(seed, name);
  for (int64_t i = 0; i < t.size(); ++i)
    t.data[size_t(i)] = float(sample[size_t(l.sample(i))] * scale[size_t(l.channel(i))] * z(uint64_t(i)));
  return t;
}

// The temporary directory beside the target, removed unless committed.
class StagingDir {
 public:
  explicit StagingDir(const fs::path& target) : target_(target) {
    std::string tmpl = target.string() + ".tmp-XXXXXX";
    if (!::mkdtemp(tmpl.data()))
      throw Error("--out " + target.string() + ": cannot create a temporary directory beside it: " +
                  std::strerror(errno));
    path_ = tmpl;
  }
  ~StagingDir() {
    if (committed_) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  void commit() {
    fs::permissions(path_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec);
    if (::rename(path_.c_str(), target_.c_str()) != 0)
      throw Error("--out " + target_.string() + ": cannot rename the finished trace into place: " +
                  std::strerror(errno));
    committed_ = true;
  }

 private:
  fs::path target_, path_;
  bool committed_ = false;
};

}  // namespace

SynthSummary write_trace(const Topology& topo, const std::string& out, const SynthOptions& opt) {
  std::string out_dir = out;  // "dir/" names the directory dir
  while (out_dir.size() > 1 && out_dir.back() == '/') out_dir.pop_back();
  std::error_code ec;
  if (fs::exists(out_dir, ec) || fs::is_symlink(out_dir, ec))
    throw Error("--out " + out_dir + " exists: synth writes a new trace directory");
  check_output_parent("--out", out_dir);
  StagingDir stage(out_dir);
  SynthSummary sum;
  nlohmann::json layers = nlohmann::json::array();
  const auto write = [&](const std::string& file, const TensorF& t) {
    write_npy((stage.path() / file).string(), t);
    sum.bytes += uint64_t(t.size()) * 4;
    ++sum.tensors;
  };
  for (const TopoLayer& l : topo.layers) {
    const LayerShapes s = layer_shapes(l, opt.batch);
    const SynthRules& rules = *synth_rules_of(l.kind);
    const bool conv = rules.channels_first;
    nlohmann::json entry = {{"name", l.name}, {"kind", l.kind}};
    entry.update(manifest_params(l));
    // One tensor alive at a time: each is written before the next is drawn.
    const std::string w = l.name + ".weight";
    if (rules.weight_is_parameter)
      write(w + ".npy", he_weight(s.weight, fan_in(s.weight), opt.seed, w));
    else
      write(w + ".npy", activation(s.weight, conv, false, opt.seed, w));
    const std::string a = l.name + ".input";
    write(a + ".npy", activation(s.input, conv, l.input_dist == InputDist::relu, opt.seed, a));
    entry["weight"] = w + ".npy";
    entry["input"] = a + ".npy";
    if (l.grad_output) {
      const std::string e = l.name + ".grad_output";
      write(e + ".npy", error(s.grad_output, conv, opt.seed, e));
      entry["grad_output"] = e + ".npy";
    }
    layers.push_back(std::move(entry));
    ++sum.layers;
  }
  const nlohmann::json manifest = {
      {"format", "mls-trace/2"}, {"model", topo.model}, {"source", opt.source}, {"layers", layers}};
  write_file_atomic((stage.path() / "manifest.json").string(), json_text(manifest));
  stage.commit();
  return sum;
}

}  // namespace mls::synth
