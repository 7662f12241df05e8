#pragma once
// One layer-pass as the array receives it: the contents of its operand and
// scale buffers, the loop bounds, the mapping it runs under, and where results
// go. Built on the host from the lowering, the mapping and the quantized
// tensors (the "DMA" step): it moves encoded elements, it does no arithmetic.
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "ref/format/format.h"
#include "ref/workload/lowering.h"
#include "ref/mapping/mapping.h"
#include "ref/quant/quantizer.h"

namespace mls::hw {

// Y's rows as the buffers hand them out: the codes ([g][k]) and group scales
// ([g]) of one p. Y is not held whole when it is large (ref/workload/lowering.h:
// an unrolled input has a slot per product of its row), so a row is generated
// when first asked for and kept in one of a few slots, chosen by p: the
// operand buffer and the group scaler, a few pipeline stages apart, read
// neighbouring rows. When all P rows' codes take at most kWholeBytes, every
// row keeps a slot of its own: each row is generated once per pass, not once
// per m-tile (the loop nest visits every p for each m-tile). A pointer
// returned stays valid until a row of the same slot is asked for.
class YRows {
 public:
  using Fill = std::function<void(int64_t p, uint32_t* codes, GroupScale* scales)>;
  YRows() = default;
  // `rows`: P, the number of rows (0: unknown, a few slots).
  YRows(int64_t g, int64_t k, Fill fill, int64_t rows = 0);
  // Rows given whole ([p][g][k] codes, [p][g] scales): testbenches' hand-built jobs.
  static YRows stored(int64_t g, int64_t k, std::vector<uint32_t> codes, std::vector<GroupScale> scales);
  const uint32_t* codes(int64_t p) const { return codes_.data() + slot(p) * size_t(g_ * k_); }
  const GroupScale* scales(int64_t p) const { return scales_.data() + slot(p) * size_t(g_); }
  // Rows generated so far (a row evicted and asked for again counts again).
  uint64_t fills() const { return fills_; }

 private:
  // An allocator that leaves elements uninitialised: a slot's row is
  // written whole by the fill before it is read, so the slots (P of them
  // when whole) are allocated once and never zeroed.
  template <class T>
  struct NoInit : std::allocator<T> {
    template <class U>
    struct rebind {
      using other = NoInit<U>;
    };
    NoInit() = default;
    template <class U>
    NoInit(const NoInit<U>&) {}
    template <class U>
    void construct(U* at) {
      ::new (static_cast<void*>(at)) U;
    }
    template <class U, class... A>
    void construct(U* at, A&&... a) {
      ::new (static_cast<void*>(at)) U(std::forward<A>(a)...);
    }
  };
  static constexpr int kSlots = 8;
  static constexpr int64_t kWholeBytes = int64_t{16} << 20;
  size_t slot(int64_t p) const;  // the slot holding row p, filled first if needed

  int64_t g_ = 0, k_ = 0;
  Fill fill_;
  mutable std::vector<int64_t> slot_p_;  // [slot] the row it holds, -1: none
  mutable std::vector<uint32_t, NoInit<uint32_t>> codes_;      // [slot][g][k]
  mutable std::vector<GroupScale, NoInit<GroupScale>> scales_;  // [slot][g]
  mutable uint64_t fills_ = 0;
};

struct LayerJob {
  int64_t m = 0, p = 0, g = 0, k = 0;
  Mapping mapping;                   // the dataflow; rows and cols are the array's
  ChunkPlan plan{1, 1, 1};           // mapping.chunk_plan(k, g)
  ElemFormat x_elem, y_elem;     // X's and Y's element formats (they may differ)
  ScaleFormat x_scale, y_scale;  // and group-scale formats
  std::vector<uint32_t> x_codes;     // [g][k][m]: a column-contiguous X buffer row
  std::vector<GroupScale> x_scales;  // [m][g]
  YRows y;                           // Y's rows of p, [g][k] codes and [g] scales
  // The lowering's separable Y rows (lp.y_parts), each row looked up once
  // per pass when the table fits; empty when the rows do not separate.
  SeparableRows y_parts;
  float s_t_x = 0, s_t_y = 0;
  std::vector<int64_t> out_index;    // [m][p] -> flat output index; empty: m * p + p itself
  float* out = nullptr;              // result tensor, numel(out_shape) floats

  int64_t out_at(int64_t i) const { return out_index.empty() ? i : out_index[size_t(i)]; }
};

// The job reads the lowering's Y rows and the tensors while it runs: lp, x and
// y must outlive it.
LayerJob make_layer_job(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y, const Mapping& mapping,
                        float* out);

// Throws mls::Error unless the job was mapped for a rows x cols array: the
// blocks take their size from the array, the loop nest from the job.
void check_job_fits(const LayerJob& job, int rows, int cols);

}  // namespace mls::hw
