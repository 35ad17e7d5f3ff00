// Small, careful file helpers: atomic replace, exclusive create, 0600 modes.
#pragma once

#include <filesystem>
#include <string>

#include "core/bytes.h"
#include "core/result.h"

namespace mpc::core {

// Reads a whole file (limit bytes at most; larger is an error).
Result<std::string> read_file(const std::filesystem::path& path, std::size_t limit = 64 << 20);

// Creates `path` exclusively (O_EXCL) with `mode`, writes, fsyncs the file
// and its directory. Fails with kAlreadyExists if the file exists.
Status write_file_exclusive(const std::filesystem::path& path, ByteView data, unsigned mode = 0600);

// Writes to a temporary file in the same directory, fsyncs, renames over
// `path`, fsyncs the directory: readers see the old or the new content.
Status write_file_atomic(const std::filesystem::path& path, ByteView data, unsigned mode = 0600);

// Creates a directory (and parents) with `mode` if missing.
Status ensure_directory(const std::filesystem::path& path, unsigned mode = 0700);

}  // namespace mpc::core
