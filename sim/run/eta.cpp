#include "sim/run/eta.h"

#include <algorithm>

namespace mls {

EtaModel::EtaModel(std::vector<Item> items) : items_(std::move(items)), done_(items_.size(), false) {
  int lanes = 1;
  for (const Item& it : items_) lanes = std::max(lanes, it.lane + 1);
  lane_since_.assign(size_t(lanes), 0.0);
}

void EtaModel::finished(const std::string& key, double seconds, bool resumed, double now) {
  const auto it = std::find_if(items_.begin(), items_.end(), [&](const Item& i) { return i.key == key; });
  if (it == items_.end()) return;
  const size_t index = size_t(it - items_.begin());
  done_[index] = true;
  lane_since_[size_t(it->lane)] = now;
  if (resumed || it->cost <= 0) return;
  std::pair<double, double>& group = fitted_[it->group];
  group.first += seconds;
  group.second += it->cost;
  seconds_ += seconds;
  cost_ += it->cost;
}

double EtaModel::rate_of(const std::string& group) const {
  const auto it = fitted_.find(group);
  return it != fitted_.end() && it->second.second > 0 ? it->second.first / it->second.second : seconds_ / cost_;
}

// The lane's remaining layer-passes at their rates; the first of them is in
// progress since the lane's last finish, so that much of it is already spent
// (never more than its own prediction: a pass running late ends "now").
double EtaModel::lane_left(int lane, double now) const {
  double left = 0;
  bool first = true;
  for (size_t i = 0; i < items_.size(); ++i) {
    if (done_[i] || items_[i].lane != lane) continue;
    double predicted = items_[i].cost * rate_of(items_[i].group);
    if (first) predicted = std::max(0.0, predicted - (now - lane_since_[size_t(lane)]));
    first = false;
    left += predicted;
  }
  return left;
}

std::optional<double> EtaModel::seconds_left(double now) const {
  if (std::all_of(done_.begin(), done_.end(), [](bool d) { return d; })) return 0.0;
  if (cost_ <= 0) return std::nullopt;
  double left = 0;
  for (size_t lane = 0; lane < lane_since_.size(); ++lane) left = std::max(left, lane_left(int(lane), now));
  return left;
}

}  // namespace mls
