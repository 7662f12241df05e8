#pragma once
// Readers of the files `mlssim vectors` writes (docs/rtl.md#test-vectors),
// shared by the column testbench (tb_vectors.cpp) and the array's
// (tb_array.cpp). Each throws std::runtime_error naming the file on bad input.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace mls::rtl_tb {

inline std::runtime_error bad(const std::string& file, const std::string& what) {
  return std::runtime_error(file + ": " + what);
}

inline std::ifstream open(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw bad(path, "cannot be read");
  return in;
}

inline std::map<std::string, std::string> read_meta(const std::string& path) {
  std::ifstream in = open(path);
  std::map<std::string, std::string> meta;
  std::string key, value;
  while (in >> key >> value) meta[key] = value;
  if (meta["format"] != "mlssim-vectors/1") throw bad(path, "not a mlssim-vectors/1 file");
  return meta;
}

inline int64_t meta_int(const std::map<std::string, std::string>& meta, const std::string& key, const std::string& path) {
  const auto it = meta.find(key);
  if (it == meta.end()) throw bad(path, "no '" + key + "'");
  return std::stoll(it->second);
}

// One operand's codes: scale code per (row, group), element codes per (row, group, k).
struct Operand {
  std::vector<uint32_t> scale, code;
};

inline Operand read_operand(const std::string& path, int64_t rows, int64_t g, int64_t k) {
  std::ifstream in = open(path);
  Operand op;
  std::string line;
  for (int64_t line_no = 1; line_no <= rows * g; ++line_no) {
    if (!std::getline(in, line)) throw bad(path, "has " + std::to_string(line_no - 1) + " lines, expected " +
                                                     std::to_string(rows * g));
    std::istringstream ls(line);
    uint32_t v;
    if (!(ls >> std::hex >> v)) throw bad(path, "line " + std::to_string(line_no) + ": no scale code");
    op.scale.push_back(v);
    for (int64_t i = 0; i < k; ++i) {
      if (!(ls >> std::hex >> v)) throw bad(path, "line " + std::to_string(line_no) + ": fewer than k codes");
      op.code.push_back(v);
    }
  }
  return op;
}

struct OutputRecord {
  int64_t m, p;
  uint32_t acc, result;
};

inline std::vector<OutputRecord> read_outputs(const std::string& path) {
  std::ifstream in = open(path);
  std::vector<OutputRecord> v;
  OutputRecord r;
  while (in >> std::dec >> r.m >> r.p >> std::hex >> r.acc >> r.result) v.push_back(r);
  if (!in.eof()) throw bad(path, "unreadable record after " + std::to_string(v.size()));
  return v;
}

inline std::string hex32(uint32_t v) {
  char buf[12];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

}  // namespace mls::rtl_tb
