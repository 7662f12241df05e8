#pragma once
// `mlssim synth`: a trace of synthetic but realistic tensors for a topology
// (docs/scale.md#synthetic-traces). Every value is a pure function of (seed,
// tensor name, index) through the counter-based random source of
// ref/core/rng.h, so a trace depends only on the topology, batch and seed.
#include <cstdint>
#include <string>

#include "sim/synth/topology.h"

namespace mls::synth {

struct SynthOptions {
  int64_t batch = 1;
  uint64_t seed = 0;
  std::string source;  // the manifest's "source": how the trace was made
};

struct SynthSummary {
  size_t layers = 0, tensors = 0;
  uint64_t bytes = 0;
};

// Writes the trace into a new directory `out_dir` (which must not exist):
// tensor by tensor into a temporary directory beside it, renamed to out_dir
// once complete, so an error leaves no partial trace. Peak memory is one
// tensor (and its file image).
SynthSummary write_trace(const Topology& topo, const std::string& out_dir, const SynthOptions& opt);

// The distributions (documented in docs/scale.md#distributions):
constexpr double kChannelSigma = 0.5;  // per-channel scales exp(kChannelSigma * z), z ~ N(0, 1)
constexpr double kErrorDecades = 3.0;  // per-sample error scales 10^-u, u spread over [0, kErrorDecades)

}  // namespace mls::synth
