#include "core/env.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/crypto.h"
#include "core/unique_fd.h"

namespace mpc::core {

namespace fs = std::filesystem;

namespace {

Error io_error(const std::string& what, const fs::path& path, int err) {
  return Error{err == ENOENT ? ErrorCode::kNotFound
               : err == EEXIST ? ErrorCode::kAlreadyExists
               : err == EACCES ? ErrorCode::kPermissionDenied
                               : ErrorCode::kInternal,
               what + " " + path.string() + ": " + std::strerror(err)};
}

Status fsync_path(const fs::path& path, int flags, const char* what) {
  UniqueFd fd(::open(path.empty() ? "." : path.c_str(), flags | O_CLOEXEC));
  if (fd.get() < 0) return std::unexpected(io_error(std::string("cannot open ") + what, path, errno));
  if (::fsync(fd.get()) != 0) return std::unexpected(io_error(std::string("cannot fsync ") + what, path, errno));
  return {};
}

class PosixLock final : public FileLock {
 public:
  explicit PosixLock(UniqueFd fd) : fd_(std::move(fd)) {}  // closing releases the flock

 private:
  UniqueFd fd_;
};

class PosixEnv final : public Env {
 public:
  Result<std::string> read_file(const fs::path& path, std::size_t limit) override {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return std::unexpected(io_error("cannot open", path, errno));
    std::string out;
    char buf[16384];
    for (;;) {
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        secure_wipe(out.data(), out.size());
        return std::unexpected(io_error("cannot read", path, err));
      }
      if (n == 0) break;
      if (out.size() + static_cast<std::size_t>(n) > limit) {
        secure_wipe(out.data(), out.size());
        secure_wipe(buf, sizeof buf);
        return fail(ErrorCode::kInvalidArgument, path.string() + " is larger than " + std::to_string(limit) + " bytes");
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
    secure_wipe(buf, sizeof buf);
    return out;
  }

  Status create_file(const fs::path& path, ByteView data, unsigned mode) override {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
    if (fd.get() < 0) {
      if (errno == EEXIST) return fail(ErrorCode::kAlreadyExists, path.string() + " already exists; refusing to overwrite it");
      return std::unexpected(io_error("cannot create", path, errno));
    }
    ::fchmod(fd.get(), mode);  // independent of the umask
    std::size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        ::unlink(path.c_str());
        return std::unexpected(io_error("cannot write", path, err));
      }
      off += static_cast<std::size_t>(n);
    }
    return {};
  }

  Status sync_file(const fs::path& path) override { return fsync_path(path, O_RDONLY, "file"); }
  Status sync_dir(const fs::path& dir) override { return fsync_path(dir, O_RDONLY | O_DIRECTORY, "directory"); }

  Status rename(const fs::path& from, const fs::path& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return std::unexpected(io_error("cannot rename " + from.string() + " to", to, errno));
    return {};
  }

  Status link(const fs::path& existing, const fs::path& new_name) override {
    if (::link(existing.c_str(), new_name.c_str()) != 0) {
      if (errno == EEXIST) return fail(ErrorCode::kAlreadyExists, new_name.string() + " already exists; it is kept unchanged");
      return std::unexpected(io_error("cannot link " + existing.string() + " as", new_name, errno));
    }
    return {};
  }

  Status remove(const fs::path& path) override {
    if (::unlink(path.c_str()) != 0) return std::unexpected(io_error("cannot remove", path, errno));
    return {};
  }

  Status create_dir(const fs::path& dir, unsigned mode) override {
    if (::mkdir(dir.c_str(), mode) != 0) return std::unexpected(io_error("cannot create directory", dir, errno));
    ::chmod(dir.c_str(), mode);  // independent of the umask
    return {};
  }

  Result<std::vector<std::string>> list_dir(const fs::path& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return std::unexpected(io_error("cannot list", dir, errno));
    std::vector<std::string> names;
    errno = 0;
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    const int err = errno;
    ::closedir(d);
    if (err != 0) return std::unexpected(io_error("cannot list", dir, err));
    return names;
  }

  Result<FileId> file_id(const fs::path& path) override {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::unexpected(io_error("cannot stat", path, errno));
    return FileId{st.st_dev, st.st_ino};
  }

  bool is_directory(const fs::path& path) override {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }

  Result<std::unique_ptr<FileLock>> lock(const fs::path& path) override {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return std::unexpected(io_error("cannot open", path, errno));
    while (::flock(fd.get(), LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      return std::unexpected(io_error("cannot lock", path, errno));
    }
    return std::unique_ptr<FileLock>(std::make_unique<PosixLock>(std::move(fd)));
  }
};

}  // namespace

Env& default_env() {
  static PosixEnv env;
  return env;
}

}  // namespace mpc::core
