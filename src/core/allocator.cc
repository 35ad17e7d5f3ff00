#include "core/allocator.h"

#include <cstdint>
#include <cstdlib>

// jemalloc's control interface; null unless jemalloc is linked in.
extern "C" int mallctl(const char* name, void* oldp, std::size_t* oldlenp, void* newp, std::size_t newlen)
    __attribute__((weak));

namespace mpc::core {

namespace {

// Whether malloc() itself is jemalloc's: its count of bytes this thread has
// allocated grows with a malloc() call. (mallctl may be present while
// another allocator serves malloc, e.g. under a sanitizer.)
bool jemalloc_serves_malloc() {
  if (mallctl == nullptr) return false;
  std::uint64_t before = 0, after = 0;
  std::size_t size = sizeof before;
  if (mallctl("thread.allocated", &before, &size, nullptr, 0) != 0) return false;
  void* volatile block = std::malloc(4096);  // volatile: the call is kept
  size = sizeof after;
  const int rc = mallctl("thread.allocated", &after, &size, nullptr, 0);
  std::free(block);
  return rc == 0 && after >= before + 4096;
}

}  // namespace

std::string allocator_name() {
  static const std::string name = [] {
    if (!jemalloc_serves_malloc()) return std::string("glibc");
    const char* version = nullptr;
    std::size_t size = sizeof version;
    if (mallctl("version", &version, &size, nullptr, 0) != 0 || version == nullptr) return std::string("jemalloc");
    return "jemalloc " + std::string(version);
  }();
  return name;
}

}  // namespace mpc::core
