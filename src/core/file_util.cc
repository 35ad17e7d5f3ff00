#include "core/file_util.h"

#include "core/crypto.h"

namespace mpc::core {

namespace fs = std::filesystem;

namespace {
fs::path parent_of(const fs::path& path) { return path.has_parent_path() ? path.parent_path() : fs::path("."); }
}  // namespace

Result<std::string> read_file(const fs::path& path, std::size_t limit, Env& env) { return env.read_file(path, limit); }

Status write_file_exclusive(const fs::path& path, ByteView data, unsigned mode, Env& env) {
  MPC_TRY(env.create_file(path, data, mode));
  if (auto st = env.sync_file(path); !st) {
    (void)env.remove(path);
    return st;
  }
  return env.sync_dir(parent_of(path));
}

Status write_file_atomic(const fs::path& path, ByteView data, unsigned mode, Env& env) {
  auto tmp = path;
  tmp += ".tmp-" + hex_encode(random_bytes(6));
  MPC_TRY(env.create_file(tmp, data, mode));
  if (auto st = env.sync_file(tmp); !st) {
    (void)env.remove(tmp);
    return st;
  }
  if (auto st = env.rename(tmp, path); !st) {
    (void)env.remove(tmp);
    return st;
  }
  return env.sync_dir(parent_of(path));
}

Status ensure_directory(const fs::path& path, unsigned mode, Env& env) {
  if (path.empty() || env.is_directory(path)) return {};
  const fs::path parent = parent_of(path);
  if (parent != path) MPC_TRY(ensure_directory(parent, mode, env));
  if (auto st = env.create_dir(path, mode); !st) {
    if (st.error().code == ErrorCode::kAlreadyExists && env.is_directory(path)) return {};
    return st;
  }
  return env.sync_dir(parent);
}

}  // namespace mpc::core
