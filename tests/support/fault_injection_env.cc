#include "support/fault_injection_env.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace mpc::testing {

namespace fs = std::filesystem;

namespace {

core::Env& real() { return core::default_env(); }

std::optional<std::pair<dev_t, ino_t>> inode_of(const fs::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) return std::nullopt;
  return std::pair(st.st_dev, st.st_ino);
}

void write_whole(const fs::path& p, const std::string& content, fs::perms mode) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  fs::permissions(p, mode);
}

}  // namespace

core::Status FaultInjectionEnv::mutate() {
  ++mutations_;
  if (mutations_ > limit_) {
    failed_ = true;
    return core::fail(core::ErrorCode::kInternal, "injected fault: the process died before this file operation");
  }
  return {};
}

fs::path FaultInjectionEnv::normal_dir(const fs::path& d) {
  fs::path n = (d.empty() ? fs::path(".") : d).lexically_normal();
  if (!n.has_filename() && n.has_relative_path()) n = n.parent_path();  // "a/b/" -> "a/b"
  return n;
}

fs::path FaultInjectionEnv::dir_of(const fs::path& p) { return normal_dir(p.lexically_normal().parent_path()); }

std::optional<FaultInjectionEnv::Saved> FaultInjectionEnv::save(const fs::path& p) {
  std::error_code ec;
  const auto status = fs::symlink_status(p, ec);
  if (ec || status.type() != fs::file_type::regular) return std::nullopt;
  std::ifstream in(p, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return Saved{content.str(), status.permissions()};
}

void FaultInjectionEnv::crash() {
  // Directory entries not made durable, newest first.
  for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
    const DirOp& op = it->second;
    std::error_code ec;
    switch (op.kind) {
      case DirOp::kCreate: fs::remove(op.name, ec); break;
      case DirOp::kMkdir: fs::remove_all(op.name, ec); break;
      case DirOp::kRename:
        fs::rename(op.name, op.from, ec);
        if (op.saved) write_whole(op.name, op.saved->content, op.saved->mode);
        break;
      case DirOp::kRemove:
        if (op.saved) write_whole(op.name, op.saved->content, op.saved->mode);
        break;
    }
  }
  // File data not made durable: whichever of its names is still there.
  for (const auto& [inode, names] : names_) {
    if (!unsynced_.contains(inode)) continue;
    for (const auto& name : names) {
      if (inode_of(name) == inode) {
        std::error_code ec;
        fs::resize_file(name, 0, ec);
      }
    }
  }
  pending_.clear();
  unsynced_.clear();
  names_.clear();
  limit_ = SIZE_MAX;
  failed_ = false;
}

core::Result<std::string> FaultInjectionEnv::read_file(const fs::path& path, std::size_t limit) {
  return real().read_file(path, limit);
}

core::Status FaultInjectionEnv::create_file(const fs::path& path, core::ByteView data, unsigned mode) {
  MPC_TRY(mutate());
  MPC_TRY(real().create_file(path, data, mode));
  pending_.push_back({dir_of(path), DirOp{DirOp::kCreate, path, {}, {}}});
  if (auto inode = inode_of(path)) {
    unsynced_.insert(*inode);
    names_[*inode] = {path};
  }
  return {};
}

core::Status FaultInjectionEnv::sync_file(const fs::path& path) {
  MPC_TRY(mutate());
  MPC_TRY(real().sync_file(path));
  if (auto inode = inode_of(path)) unsynced_.erase(*inode);
  return {};
}

core::Status FaultInjectionEnv::sync_dir(const fs::path& dir) {
  MPC_TRY(mutate());
  MPC_TRY(real().sync_dir(dir));
  const fs::path d = normal_dir(dir);
  std::erase_if(pending_, [&](const auto& entry) { return entry.first == d; });
  return {};
}

core::Status FaultInjectionEnv::rename(const fs::path& from, const fs::path& to) {
  MPC_TRY(mutate());
  if (dir_of(from) != dir_of(to)) throw std::logic_error("FaultInjectionEnv: renames across directories are not modelled");
  auto replaced = save(to);
  const auto moved = inode_of(from);
  MPC_TRY(real().rename(from, to));
  pending_.push_back({dir_of(to), DirOp{DirOp::kRename, to, from, std::move(replaced)}});
  if (moved) names_[*moved].insert(to);
  return {};
}

core::Status FaultInjectionEnv::link(const fs::path& existing, const fs::path& new_name) {
  MPC_TRY(mutate());
  MPC_TRY(real().link(existing, new_name));
  pending_.push_back({dir_of(new_name), DirOp{DirOp::kCreate, new_name, {}, {}}});
  if (auto inode = inode_of(new_name)) names_[*inode].insert(new_name);
  return {};
}

core::Status FaultInjectionEnv::remove(const fs::path& path) {
  MPC_TRY(mutate());
  auto saved = save(path);
  MPC_TRY(real().remove(path));
  pending_.push_back({dir_of(path), DirOp{DirOp::kRemove, path, {}, std::move(saved)}});
  return {};
}

core::Status FaultInjectionEnv::create_dir(const fs::path& dir, unsigned mode) {
  MPC_TRY(mutate());
  MPC_TRY(real().create_dir(dir, mode));
  pending_.push_back({dir_of(dir), DirOp{DirOp::kMkdir, dir, {}, {}}});
  return {};
}

core::Result<std::vector<std::string>> FaultInjectionEnv::list_dir(const fs::path& dir) { return real().list_dir(dir); }
core::Result<core::FileId> FaultInjectionEnv::file_id(const fs::path& path) { return real().file_id(path); }
bool FaultInjectionEnv::is_directory(const fs::path& path) { return real().is_directory(path); }
core::Result<std::unique_ptr<core::FileLock>> FaultInjectionEnv::lock(const fs::path& path) { return real().lock(path); }

}  // namespace mpc::testing
