#include "json_mutator.h"

#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace mls::fuzz {

namespace {

using ojson = nlohmann::ordered_json;
using Rng = std::minstd_rand;

// Values of every JSON type, chosen for the limits of the readers: int and
// int64 bounds, numbers a float cannot hold exactly, paths, empty and long text.
ojson interesting_value(Rng& rng, const std::vector<std::string>& keys) {
  switch (rng() % 32) {
    case 0: return nullptr;
    case 1: return true;
    case 2: return false;
    case 3: return 0;
    case 4: return 1;
    case 5: return -1;
    case 6: return 2;
    case 7: return int64_t{std::numeric_limits<int>::max()} + 1;
    case 8: return int64_t{std::numeric_limits<int>::min()} - 1;
    case 9: return std::numeric_limits<int64_t>::max();
    case 10: return std::numeric_limits<int64_t>::min();
    case 11: return std::numeric_limits<uint64_t>::max();
    case 12: return uint64_t{1} << 63;
    case 13: return 0.5;
    case 14: return -0.0;
    case 15: return 1e308;
    case 16: return 4.9e-324;
    case 17: return 16.0;
    case 18: return "";
    case 19: return "a";
    case 20: return std::string(300, 'a');
    case 21: return "../w.npy";
    case 22: return "/etc/hostname";
    case 23: return ".";
    case 24: return std::string("a\0b", 3);
    case 25: return ojson::array();
    case 26: return ojson::object();
    case 27: return ojson::array({1, 2});
    case 28: return ojson::array({"a", "b"});
    case 29: return ojson::object({{"a", 1}});
    case 30: return 65537;
    default: return keys.empty() ? ojson("key") : ojson(keys[rng() % keys.size()]);
  }
}

void collect(ojson& node, std::vector<ojson*>& nodes, int depth) {
  nodes.push_back(&node);
  if (depth > 64) return;
  if (node.is_object())
    for (auto& item : node.items()) collect(item.value(), nodes, depth + 1);
  else if (node.is_array())
    for (auto& item : node) collect(item, nodes, depth + 1);
}

// Deeper documents are left to the byte mutations (the mutator recurses).
bool shallow(const uint8_t* data, size_t size) {
  int depth = 0;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '[' || data[i] == '{') {
      if (++depth > 64) return false;
    } else if (data[i] == ']' || data[i] == '}') {
      --depth;
    }
  }
  return true;
}

// Mutates the string's bytes with libFuzzer's mutations; invalid UTF-8 is left
// to the byte mutations of the whole file, so the document stays JSON.
std::string mutate_text(const std::string& text) {
  std::string buffer = text;
  buffer.resize(text.size() + 64);
  buffer.resize(LLVMFuzzerMutate(reinterpret_cast<uint8_t*>(&buffer[0]), text.size(), buffer.size()));
  return buffer;
}

void mutate_node(ojson& root, Rng& rng, const std::vector<std::string>& keys) {
  std::vector<ojson*> nodes;
  collect(root, nodes, 0);
  ojson& node = *nodes[rng() % nodes.size()];
  const ojson other = *nodes[rng() % nodes.size()];  // a copy: `node` may contain it
  switch (rng() % 8) {
    case 0:
    case 1:
      node = interesting_value(rng, keys);
      break;
    case 2:
      node = other;
      break;
    case 3:  // drop a key or an element
      if (node.is_object() && !node.empty()) {
        auto it = node.begin();
        std::advance(it, rng() % node.size());
        const std::string key = it.key();
        node.erase(key);
      } else if (node.is_array() && !node.empty()) {
        node.erase(node.begin() + long(rng() % node.size()));
      } else {
        node = interesting_value(rng, keys);
      }
      break;
    case 4:  // add a key or an element
      if (node.is_object()) {
        const std::string key = keys.empty() || rng() % 4 == 0 ? mutate_text("k") : keys[rng() % keys.size()];
        node[key] = rng() % 2 ? other : interesting_value(rng, keys);
      } else if (node.is_array()) {
        node.insert(node.begin() + long(rng() % (node.size() + 1)), rng() % 2 ? other : interesting_value(rng, keys));
      } else {
        node = ojson::array({node});
      }
      break;
    case 5:  // nest
      node = rng() % 2 ? ojson::array({node}) : ojson::object({{keys.empty() ? "k" : keys[rng() % keys.size()], node}});
      break;
    case 6:  // the same value as text, or text as a number
      if (node.is_string()) node = mutate_text(node.get<std::string>());
      else if (node.is_number() || node.is_boolean() || node.is_null()) node = node.dump();
      else node = interesting_value(rng, keys);
      break;
    default:
      if (node.is_string() && !keys.empty()) node = keys[rng() % keys.size()];
      else node = interesting_value(rng, keys);
      break;
  }
}

}  // namespace

size_t mutate_json(uint8_t* data, size_t size, size_t max_size, unsigned seed, size_t prefix,
                   const std::vector<std::string>& keys) {
  Rng rng(seed);
  if (size <= prefix || rng() % 2 == 0 || !shallow(data + prefix, size - prefix))
    return LLVMFuzzerMutate(data, size, max_size);
  ojson doc = ojson::parse(data + prefix, data + size, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return LLVMFuzzerMutate(data, size, max_size);
  const int rounds = 1 + int(rng() % 3);
  for (int i = 0; i < rounds; ++i) mutate_node(doc, rng, keys);
  const std::string text = doc.dump(rng() % 2 ? -1 : 1, ' ', false, ojson::error_handler_t::replace);
  if (prefix + text.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
  std::memcpy(data + prefix, text.data(), text.size());
  return prefix + text.size();
}

}  // namespace mls::fuzz
