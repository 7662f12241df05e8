#pragma once
// The configuration one Verilator model of the whole array is built for (the
// -G parameters of rtl/src/mls_array.sv), read from the meta.txt of a vector
// set (docs/rtl.md#the-whole-array). A configuration the RTL cannot run is
// refused here, with the file and what is unsupported, before any model is
// built: mls_rtl_array (array_main.cpp) builds models on demand from it.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tb_vector_files.h"

namespace mls::rtl_tb {

// An element or group-scale format eEmM.
struct EmFormat {
  int e = 0, m = 0;
  std::string name() const { return "e" + std::to_string(e) + "m" + std::to_string(m); }
};

// Address bits of the operand buffers the CMake build gives the prebuilt
// model (and the least an on-demand one gets): X per column bank, Y, and
// their group scales.
constexpr int kDefaultXaw = 16, kDefaultYaw = 20, kDefaultXsaw = 12, kDefaultYsaw = 16;
// The controller's counters and offsets (mls_array's NW).
constexpr int kCounterBits = 24;

struct ArrayParams {
  int rows = 4, cols = 8;
  EmFormat x_elem{2, 4}, y_elem{2, 4}, x_scale{8, 1}, y_scale{8, 1};
  int acc_bits = 16;
  bool wrap = false;
  int xaw = kDefaultXaw, yaw = kDefaultYaw, xsaw = kDefaultXsaw, ysaw = kDefaultYsaw;

  // NAME=VALUE per mls_array parameter, in one fixed order.
  std::vector<std::string> parameters() const {
    const std::pair<const char*, int> p[] = {
        {"ROWS", rows}, {"COLS", cols}, {"EX", x_elem.e}, {"MX", x_elem.m}, {"EY", y_elem.e}, {"MY", y_elem.m},
        {"EGX", x_scale.e}, {"MGX", x_scale.m}, {"EGY", y_scale.e}, {"MGY", y_scale.m},
        {"ACC_BITS", acc_bits}, {"WRAP", wrap ? 1 : 0}, {"XAW", xaw}, {"YAW", yaw}, {"XSAW", xsaw}, {"YSAW", ysaw}};
    std::vector<std::string> out;
    for (const auto& [name, value] : p) out.push_back(std::string(name) + "=" + std::to_string(value));
    return out;
  }
  // A directory name: every parameter, readable.
  std::string key() const {
    return std::to_string(rows) + "x" + std::to_string(cols) + "_x-" + x_elem.name() + "-" + x_scale.name() + "_y-" +
           y_elem.name() + "-" + y_scale.name() + "_acc" + std::to_string(acc_bits) + (wrap ? "-wrap" : "-sat") +
           "_mem" + std::to_string(xaw) + "." + std::to_string(yaw) + "." + std::to_string(xsaw) + "." +
           std::to_string(ysaw);
  }
  std::string describe() const {
    return std::to_string(rows) + " x " + std::to_string(cols) + ", X " + x_elem.name() + "/" + x_scale.name() +
           ", Y " + y_elem.name() + "/" + y_scale.name() + ", " + std::to_string(acc_bits) + "-bit " +
           (wrap ? "wrapping" : "saturating") + " accumulator";
  }
};

inline EmFormat parse_em(const std::map<std::string, std::string>& meta, const std::string& key,
                         const std::string& path) {
  const auto it = meta.find(key);
  if (it == meta.end()) throw bad(path, "no '" + key + "'");
  EmFormat f;
  char tail = 0;
  if (std::sscanf(it->second.c_str(), "e%dm%d%c", &f.e, &f.m, &tail) != 2)
    throw bad(path, key + " '" + it->second + "' is not a format eEmM");
  return f;
}

// Address bits for `codes` entries, at least `least`.
inline int address_bits(int64_t codes, int least) {
  int bits = least;
  while ((int64_t{1} << bits) < codes) ++bits;
  return bits;
}

// What the RTL cannot build or run (docs/rtl.md#limits), as one reason; empty if none.
inline std::string unsupported(const std::map<std::string, std::string>& meta, const ArrayParams& a) {
  const auto value = [&](const char* key) { return meta.count(key) ? meta.at(key) : std::string(); };
  if (value("dataflow") != "baseline")
    return "dataflow '" + value("dataflow") + "': the RTL controller walks the baseline dataflow only";
  if (a.rows < 2) return "rows " + std::to_string(a.rows) + ": the RTL adder tree needs at least 2 rows";
  if (a.cols > 64) return "cols " + std::to_string(a.cols) + ": the testbench reads at most 64 columns";
  int levels = 0;
  while ((1 << levels) < a.rows) ++levels;
  if (value("tree_stages") != std::to_string(levels))
    return "tree_stages " + value("tree_stages") + ": the RTL adder tree has one register per level (" +
           std::to_string(levels) + " at " + std::to_string(a.rows) + " rows)";
  for (const auto& [name, f] : {std::pair{"x_elem", a.x_elem}, std::pair{"y_elem", a.y_elem}})
    if (f.e < 0 || f.e > 4 || f.m < 0 || f.m > 12 || f.e + f.m < 1 || 1 + f.e + f.m > 16)
      return std::string(name) + " " + f.name() + ": the RTL takes E 0..4, M 0..12, codes of at most 16 bits";
  for (const auto& [name, f] : {std::pair{"x_scale", a.x_scale}, std::pair{"y_scale", a.y_scale}})
    if (f.e < 0 || f.e > 8 || f.m < 0 || f.m > 3)
      return std::string(name) + " " + f.name() + ": the RTL group scaler takes E_g 0..8 and M_g 0..3";
  if (a.acc_bits < 8 || a.acc_bits > 62)
    return "acc_bits " + std::to_string(a.acc_bits) + ": the RTL accumulator takes 8..62 bits";
  return "";
}

// The model a vector set needs; throws naming `path` and what the RTL cannot run.
inline ArrayParams params_for(const std::map<std::string, std::string>& meta, const std::string& path) {
  const auto get = [&](const char* key) { return meta_int(meta, key, path); };
  ArrayParams a;
  a.rows = int(get("rows"));
  a.cols = int(get("cols"));
  a.x_elem = parse_em(meta, "x_elem", path);
  a.y_elem = parse_em(meta, "y_elem", path);
  a.x_scale = parse_em(meta, "x_scale", path);
  a.y_scale = parse_em(meta, "y_scale", path);
  a.acc_bits = int(get("acc_bits"));
  const std::string overflow = meta.count("acc_overflow") ? meta.at("acc_overflow") : "";
  if (overflow != "wrap" && overflow != "saturate") throw bad(path, "acc_overflow '" + overflow + "' is unknown");
  a.wrap = overflow == "wrap";
  const std::string why = unsupported(meta, a);
  if (!why.empty()) throw bad(path, "unsupported by the RTL array: " + why);
  // The buffers hold the whole pass; the controller's offsets are 24 bits.
  const int64_t gk = get("g") * get("k"), x_rows = get("m_tiles"), y_rows = get("p");
  for (const int64_t codes : {x_rows * gk, y_rows * gk})
    if (codes > (int64_t{1} << kCounterBits))
      throw bad(path, "unsupported by the RTL array: an operand of " + std::to_string(codes) +
                          " codes per buffer bank, beyond the controller's 24-bit offsets");
  a.xaw = address_bits(x_rows * gk, kDefaultXaw);
  a.yaw = address_bits(y_rows * gk, kDefaultYaw);
  a.xsaw = address_bits(x_rows * get("g"), kDefaultXsaw);
  a.ysaw = address_bits(y_rows * get("g"), kDefaultYsaw);
  return a;
}

}  // namespace mls::rtl_tb
