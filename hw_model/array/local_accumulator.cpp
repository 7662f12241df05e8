#include "hw_model/array/local_accumulator.h"

namespace mls::hw {

LocalAccumulator::LocalAccumulator(const ArrayConfig& cfg, Stats* stats)
    : acc_bits_(cfg.acc_bits),
      stats_(stats),
      regs_(std::in_place_type<AccRegisterFile<int64_t>>, cfg.rows, cfg.cols, cfg.acc_bits, cfg.acc_overflow) {}

int LocalAccumulator::width_needed() const {
  return std::visit([](const auto& f) { return f.width_needed(); }, regs_);
}

void LocalAccumulator::reset_width() {
  std::visit([](auto& f) { f.reset_width(); }, regs_);
}

void LocalAccumulator::use_lanes(bool narrow) {
  // Only a change of job changes the width; the registers' values and
  // history move over exactly.
  if (narrow && std::holds_alternative<AccRegisterFile<int64_t>>(regs_))
    regs_ = AccRegisterFile<int32_t>(std::get<AccRegisterFile<int64_t>>(regs_));
  else if (!narrow && std::holds_alternative<AccRegisterFile<int32_t>>(regs_))
    regs_ = AccRegisterFile<int64_t>(std::get<AccRegisterFile<int32_t>>(regs_));
}

void LocalAccumulator::edge(const Products& in, ChunkSums& o, bool rst) {
  o.tag.valid = false;
  if (rst) {
    std::visit([](auto& f) { f.clear(); }, regs_);
    return;
  }
  if (!in.tag.valid) return;
  // A tile's steps arrive on consecutive edges: its additions are counted
  // whole at its first.
  if (in.step == 0) count_adds(in);
  // The tile's additions are evaluated at its last step (AccRegisterFile):
  // the bundle of that step addresses every step's operands.
  if (!in.tag.tile_last) return;
  use_lanes(in.narrow && acc_bits_ <= kNarrowAccBits);
  std::visit(
      [&](auto& f) {
        stats_->acc_overflow += f.add_tile(in);
        o.tag = in.tag;
        o.active_cols = in.active_cols;
        f.hand_over(o);
      },
      regs_);
}

}  // namespace mls::hw
