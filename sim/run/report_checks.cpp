// Counts read back from files (--resume entries, shards' partial reports)
// checked before they are summed, and the sums checked as they are made: a
// hand-edited or damaged entry is refused, never added into a total, and a
// total that would leave its 64-bit type is an error, never a wrapped number.
#include <cmath>
#include <limits>

#include "hw_model/stats/traffic.h"
#include "hw_model/stats/stats.h"
#include "ref/core/error.h"
#include "ref/core/rng.h"
#include "ref/workload/layer_kind.h"
#include "sim/run/report.h"

namespace mls {

using nlohmann::json;

namespace {

template <class Int>
Int add_or_throw(Int a, Int b, const std::string& what) {
  Int sum = 0;
  if (__builtin_add_overflow(a, b, &sum))
    throw Error("the total " + what + " overflows a 64-bit count (" + std::to_string(a) + " + " + std::to_string(b) +
                "): the counts summed cannot all be right");
  return sum;
}

}  // namespace

uint64_t checked_add(uint64_t a, uint64_t b, const std::string& what) { return add_or_throw(a, b, what); }
int64_t checked_add(int64_t a, int64_t b, const std::string& what) { return add_or_throw(a, b, what); }

namespace {

// A count of `holder`: a non-negative integer that fits its type.
uint64_t count_of(const json& holder, const std::string& key, const std::string& where, uint64_t max) {
  if (!holder.is_object() || !holder.contains(key)) throw Error(where + ": not a run report entry (no '" + key + "')");
  const json& v = holder[key];
  if (v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() < 0)
    throw Error(where + ": '" + key + "' is negative (" + v.dump() + ")");
  if (!v.is_number_integer()) throw Error(where + ": '" + key + "' is not a count (" + v.dump() + ")");
  if (v.get<uint64_t>() > max) throw Error(where + ": '" + key + "' " + v.dump() + " is out of range");
  return v.get<uint64_t>();
}

constexpr uint64_t kMaxSigned = uint64_t(std::numeric_limits<int64_t>::max());
constexpr uint64_t kMaxUnsigned = std::numeric_limits<uint64_t>::max();

void check_simulated_entry(const json& e, const json& config, const std::string& where) {
  const uint64_t macs = count_of(e, "macs", where, kMaxSigned);
  const uint64_t cycles = count_of(e, "cycles", where, kMaxUnsigned);
  if (!e.contains("events") || !e["events"].is_object())
    throw Error(where + ": not a run report entry (no 'events' object)");
  const json& events = e["events"];
  for (const StatInfo& info : kStatTable) count_of(events, info.key, where + " events", kMaxUnsigned);
  // References, not copies: destroying a copied object allocates (nlohmann's
  // destructor flattens it), which an out-of-memory unwind cannot afford.
  static const json none;
  const json& traffic = e.contains("traffic") ? e["traffic"] : none;
  const json& elements = traffic.is_object() && traffic.contains("elements") ? traffic["elements"] : none;
  for (const hw::TrafficInfo& info : hw::kTrafficTable)
    count_of(info.bytes ? traffic : elements, info.key, where + " traffic", kMaxUnsigned);
  const uint64_t m = count_of(e, "m", where, kMaxSigned), p = count_of(e, "p", where, kMaxSigned);
  const uint64_t g = count_of(e, "g", where, kMaxSigned), k = count_of(e, "k", where, kMaxSigned);
  const uint64_t blocks = e.contains("blocks") ? count_of(e, "blocks", where, kMaxSigned) : 1;
  const uint64_t bits = count_of(e, "acc_bits_needed", where, 1u << 16);
  if (blocks < 1 || bits < 1) throw Error(where + ": 'blocks' and 'acc_bits_needed' must be at least 1");
  // The product count the lowered shape gives: one block's m x p x g x k.
  unsigned __int128 shape_macs = (unsigned __int128)m * p;
  shape_macs = shape_macs * g * k;
  if (blocks == 1 && shape_macs != macs)
    throw Error(where + ": 'macs' " + std::to_string(macs) + " is not m x p x g x k of its shape");
  if (events["mul"].get<uint64_t>() != macs || events["cycles"].get<uint64_t>() != cycles)
    throw Error(where + ": events 'mul' and 'cycles' differ from the entry's 'macs' and 'cycles'");
  // At most rows x cols products a cycle: fewer cycles than that is no run of the array.
  const uint64_t per_cycle =
      count_of(config, "rows", "config", 1u << 20) * count_of(config, "cols", "config", 1u << 20);
  if ((unsigned __int128)cycles * per_cycle < macs)
    throw Error(where + ": " + std::to_string(cycles) + " cycles are too few for " + std::to_string(macs) +
                " products on a " + config["rows"].dump() + "x" + config["cols"].dump() + " array");
  const json& seconds = e.contains("sim_seconds") ? e["sim_seconds"] : none;
  if (!seconds.is_number() || !std::isfinite(seconds.get<double>()) || seconds.get<double>() < 0)
    throw Error(where + ": 'sim_seconds' is not a non-negative number");
}

}  // namespace

void check_entry_counts(const json& e, const json& config, const std::string& where) {
  if (!e.is_object() || !e.contains("name") || !e["name"].is_string() || !e.contains("pass") || !e["pass"].is_string())
    throw Error(where + ": a layer entry without a 'name' and a 'pass'");
  try {
    parse_pass(e["pass"].get<std::string>());
  } catch (const Error& bad) {
    throw Error(where + ": " + bad.what());
  }
  const uint64_t macs = count_of(e, "macs", where, kMaxSigned);
  if (count_of(e, "macs_useful", where, kMaxSigned) > macs)
    throw Error(where + ": 'macs_useful' is more than 'macs'");
  if (e.contains("unquantized") && !e["unquantized"].is_boolean())
    throw Error(where + ": 'unquantized' is not true or false");
  if (!e.value("unquantized", false)) check_simulated_entry(e, config, where);
}

std::string content_checksum(const json& content) {
  return hex64(fnv1a64(content.dump(-1, ' ', false, json::error_handler_t::replace)));
}

}  // namespace mls
