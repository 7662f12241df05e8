#pragma once
// A structure-aware libFuzzer mutator for inputs that are JSON documents (after
// an optional prefix, e.g. a harness's mode byte). Byte-level mutations seldom
// turn a valid document into another valid one with a value of the wrong type,
// a missing key or an extra element; this mutator does exactly that. Half of the
// time, and whenever the input is not JSON, it falls back to libFuzzer's own
// mutations (LLVMFuzzerMutate, which also uses the -dict tokens).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mls::fuzz {

// For LLVMFuzzerCustomMutator: mutates data[prefix, size) and returns the new
// size (<= max_size). `keys` are object keys worth inserting (the format's own).
size_t mutate_json(uint8_t* data, size_t size, size_t max_size, unsigned seed, size_t prefix,
                   const std::vector<std::string>& keys);

}  // namespace mls::fuzz
