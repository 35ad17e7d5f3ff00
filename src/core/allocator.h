// Which malloc the process runs on.
//
// The allocator is chosen when a binary is linked: mpc-node links jemalloc
// (apps/CMakeLists.txt; sanitizer builds keep glibc's, which ASan replaces).
// This code finds jemalloc at run time through a weak reference to its
// mallctl(), so the libraries link into any binary, whichever it uses.
#pragma once

#include <string>

namespace mpc::core {

// "jemalloc <version>" when jemalloc serves this process's malloc() (checked
// by allocating, not only by its presence), else "glibc".
std::string allocator_name();

}  // namespace mpc::core
