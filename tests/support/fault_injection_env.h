// Test-only: an Env on the real file system that can simulate a crash the
// way POSIX allows one to happen (LevelDB's FaultInjectionTestEnv is the
// model). It records what has not been made durable:
//   - file data written but not yet fsynced (sync_file);
//   - directory entries (created, linked, renamed, removed names, created
//     subdirectories) not yet fsynced in their directory (sync_dir);
// and crash() undoes exactly that: unsynced entries are reverted, newest
// first (a renamed-over file comes back, a removed one reappears), and
// files whose data was never synced are truncated to nothing.
//
// fail_after(n) makes the process "die" after n more mutating operations:
// that one and every later one fails, so a test can stop a store at every
// point of its work, then crash() and check what a restart would find.
//
// Files that existed before the Env was used are durable. Renames must stay
// within one directory (the only kind the stores do). Not thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/env.h"

namespace mpc::testing {

class FaultInjectionEnv final : public core::Env {
 public:
  FaultInjectionEnv() = default;

  // The next `n` mutating operations succeed, then every one fails.
  void fail_after(std::size_t n) { limit_ = mutations_ + n; }
  // Mutating operations attempted so far (failed ones included).
  std::size_t mutations() const { return mutations_; }
  bool failed() const { return failed_; }
  // Reverts everything not durable and forgets it; the Env works again.
  void crash();

  core::Result<std::string> read_file(const std::filesystem::path& path, std::size_t limit) override;
  core::Status create_file(const std::filesystem::path& path, core::ByteView data, unsigned mode) override;
  core::Status sync_file(const std::filesystem::path& path) override;
  core::Status sync_dir(const std::filesystem::path& dir) override;
  core::Status rename(const std::filesystem::path& from, const std::filesystem::path& to) override;
  core::Status link(const std::filesystem::path& existing, const std::filesystem::path& new_name) override;
  core::Status remove(const std::filesystem::path& path) override;
  core::Status create_dir(const std::filesystem::path& dir, unsigned mode) override;
  core::Result<std::vector<std::string>> list_dir(const std::filesystem::path& dir) override;
  core::Result<core::FileId> file_id(const std::filesystem::path& path) override;
  bool is_directory(const std::filesystem::path& path) override;
  core::Result<std::unique_ptr<core::FileLock>> lock(const std::filesystem::path& path) override;

 private:
  struct Saved {  // a file a rename replaced or a remove deleted
    std::string content;
    std::filesystem::perms mode;
  };
  struct DirOp {
    enum Kind { kCreate, kMkdir, kRename, kRemove } kind;
    std::filesystem::path name;  // the entry changed (for kRename: the destination)
    std::filesystem::path from;  // kRename: the source
    std::optional<Saved> saved;  // kRename: the replaced destination; kRemove: the removed file
  };

  core::Status mutate();  // counts the operation; the injected failure
  static std::filesystem::path dir_of(const std::filesystem::path& p);
  static std::filesystem::path normal_dir(const std::filesystem::path& d);
  static std::optional<Saved> save(const std::filesystem::path& p);

  std::size_t mutations_ = 0;
  std::size_t limit_ = SIZE_MAX;
  bool failed_ = false;
  std::vector<std::pair<std::filesystem::path, DirOp>> pending_;  // (directory, op), oldest first
  std::set<std::pair<dev_t, ino_t>> unsynced_;                    // inodes whose data was never synced
  std::map<std::pair<dev_t, ino_t>, std::set<std::filesystem::path>> names_;  // the names each tracked inode got
};

}  // namespace mpc::testing
