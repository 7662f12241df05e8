#include "ref/io/fault.h"

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

namespace mls::fault {

namespace {

enum Kind { none, write, alloc };

// Zero-initialized before any constructor runs, so allocations made before
// the plan is read (other static initializers) are simply not counted.
struct Plan {
  Kind kind;
  uint64_t n;
  std::atomic<uint64_t> count;
  std::atomic<bool> armed;
};
Plan plan;

// Reads MLSSIM_FAULT once, at start-up.
struct ReadPlan {
  ReadPlan() {
    const char* text = std::getenv("MLSSIM_FAULT");
    if (!text || !*text) return;
    const char* colon = std::strchr(text, ':');
    char* end = nullptr;
    const unsigned long long n = colon ? std::strtoull(colon + 1, &end, 10) : 0;
    const size_t prefix = colon ? size_t(colon - text) : 0;
    const bool is_write = prefix == 5 && std::strncmp(text, "write", 5) == 0;
    const bool is_alloc = prefix == 5 && std::strncmp(text, "alloc", 5) == 0;
    if (!(is_write || is_alloc) || n == 0 || !end || *end || colon[1] == '-') {
      std::fprintf(stderr, "mlssim: MLSSIM_FAULT must be write:N or alloc:N with N >= 1\n");
      std::_Exit(1);
    }
    plan.n = n;
    plan.kind = is_write ? write : alloc;
  }
};
const ReadPlan read_plan;

bool hit(Kind kind) {
  return plan.kind == kind && plan.armed.load(std::memory_order_relaxed) &&
         plan.count.fetch_add(1, std::memory_order_relaxed) + 1 == plan.n;
}

}  // namespace

bool fail_write() { return hit(write); }

void arm() { plan.armed.store(true, std::memory_order_relaxed); }

}  // namespace mls::fault

#if defined(__SANITIZE_ADDRESS__)
#define MLSSIM_SANITIZED_ALLOCATOR 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define MLSSIM_SANITIZED_ALLOCATOR 1
#endif
#endif

// Under ASan the sanitizer's own operator new stays (it checks new/delete
// pairing), and alloc:N has no effect.
#ifndef MLSSIM_SANITIZED_ALLOCATOR
// The program's allocation functions: malloc and free, as the library's, with
// the one failure MLSSIM_FAULT=alloc:N asks for. (The aligned and nothrow
// forms are the library's, which call these.)
void* operator new(std::size_t size) {
  if (mls::fault::hit(mls::fault::alloc)) throw std::bad_alloc();
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#endif
