// Small, careful file helpers: atomic replace, exclusive create, 0600 modes.
// Each takes the Env to run on (default: the real file system), so crash
// tests can check what survives (tests/support/fault_injection_env.h).
#pragma once

#include <filesystem>
#include <string>

#include "core/bytes.h"
#include "core/env.h"
#include "core/result.h"

namespace mpc::core {

// Reads a whole file (limit bytes at most; larger is an error).
Result<std::string> read_file(const std::filesystem::path& path, std::size_t limit = 64 << 20, Env& env = default_env());

// Creates `path` exclusively (O_EXCL) with `mode`, writes, fsyncs the file
// and its directory. Fails with kAlreadyExists if the file exists. Durable
// when it returns.
Status write_file_exclusive(const std::filesystem::path& path, ByteView data, unsigned mode = 0600, Env& env = default_env());

// Writes to a temporary file in the same directory, fsyncs, renames over
// `path`, fsyncs the directory: readers see the old or the new content, and
// after a crash the old or the new content is there; the new one once it
// has returned.
Status write_file_atomic(const std::filesystem::path& path, ByteView data, unsigned mode = 0600, Env& env = default_env());

// Creates a directory (and parents) with `mode` if missing; each created
// directory's entry is synced in its parent.
Status ensure_directory(const std::filesystem::path& path, unsigned mode = 0700, Env& env = default_env());

}  // namespace mpc::core
