#pragma once
// One layer-pass as the array receives it: the contents of its operand and
// scale buffers, the loop bounds, the mapping it runs under, and where results
// go. Built on the host from the lowering, the mapping and the quantized
// tensors (the "DMA" step): it moves encoded elements, it does no arithmetic.
#include <cstdint>
#include <vector>

#include "ref/format/format.h"
#include "ref/workload/lowering.h"
#include "ref/mapping/mapping.h"
#include "ref/quant/quantizer.h"

namespace mls::hw {

struct LayerJob {
  int64_t m = 0, p = 0, g = 0, k = 0;
  Mapping mapping;                   // the dataflow; rows and cols are the array's
  ChunkPlan plan{1, 1, 1};           // mapping.chunk_plan(k, g)
  ElemFormat x_elem, y_elem;     // X's and Y's element formats (they may differ)
  ScaleFormat x_scale, y_scale;  // and group-scale formats
  std::vector<uint32_t> x_codes;     // [g][k][m]: a column-contiguous X buffer row
  std::vector<uint32_t> y_codes;     // [p][g][k]
  std::vector<GroupScale> x_scales;  // [m][g]
  std::vector<GroupScale> y_scales;  // [p][g]
  float s_t_x = 0, s_t_y = 0;
  std::vector<int64_t> out_index;    // [m][p] -> flat output index
  float* out = nullptr;              // result tensor, numel(out_shape) floats
};

LayerJob make_layer_job(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y, const Mapping& mapping,
                        float* out);

// Throws mls::Error unless the job was mapped for a rows x cols array: the
// blocks take their size from the array, the loop nest from the job.
void check_job_fits(const LayerJob& job, int rows, int cols);

}  // namespace mls::hw
