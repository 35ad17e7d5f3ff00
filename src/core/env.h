// The file-system seam of the durable stores (LevelDB's Env): every
// operation whose durability matters goes through an Env, so that tests can
// swap in one that simulates a crash by dropping whatever was not synced
// (tests/support/fault_injection_env.h).
//
// Durability contract (POSIX): file data is durable once sync_file() has
// returned; a directory entry (a created, linked, renamed or removed name,
// a created subdirectory) once sync_dir() of its directory has returned.
// Nothing else is.
//
// Thread safety: the default Env is thread-safe; test Envs need not be.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"

namespace mpc::core {

// (device, inode): two names of one file compare equal.
struct FileId {
  dev_t device = 0;
  ino_t inode = 0;
  bool operator==(const FileId&) const = default;
};

// An exclusive advisory lock (flock); released when destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Env {
 public:
  virtual ~Env() = default;

  // The whole file, `limit` bytes at most (larger: kInvalidArgument).
  virtual Result<std::string> read_file(const std::filesystem::path& path, std::size_t limit) = 0;
  // Creates `path` exclusively with `mode` (independent of the umask) and
  // writes `data`; not synced. kAlreadyExists if the name exists.
  virtual Status create_file(const std::filesystem::path& path, ByteView data, unsigned mode) = 0;
  virtual Status sync_file(const std::filesystem::path& path) = 0;
  virtual Status sync_dir(const std::filesystem::path& dir) = 0;
  // Atomically replaces `to` (same directory expected).
  virtual Status rename(const std::filesystem::path& from, const std::filesystem::path& to) = 0;
  // A second name for `existing`; never replaces (kAlreadyExists).
  virtual Status link(const std::filesystem::path& existing, const std::filesystem::path& new_name) = 0;
  // kNotFound when absent.
  virtual Status remove(const std::filesystem::path& path) = 0;
  // One level, with `mode`; kAlreadyExists when the name exists.
  virtual Status create_dir(const std::filesystem::path& dir, unsigned mode) = 0;
  // The names in `dir` (not "." and ".."); kNotFound when it is absent.
  virtual Result<std::vector<std::string>> list_dir(const std::filesystem::path& dir) = 0;
  // kNotFound when absent.
  virtual Result<FileId> file_id(const std::filesystem::path& path) = 0;
  virtual bool is_directory(const std::filesystem::path& path) = 0;
  // Blocks until the lock on `path` (a file or directory) is held.
  virtual Result<std::unique_ptr<FileLock>> lock(const std::filesystem::path& path) = 0;
};

// The real file system.
Env& default_env();

}  // namespace mpc::core
