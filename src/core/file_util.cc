#include "core/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/crypto.h"

namespace mpc::core {

namespace {
Error io_error(const std::string& what, const std::filesystem::path& path, int err) {
  return Error{err == ENOENT ? ErrorCode::kNotFound
               : err == EEXIST ? ErrorCode::kAlreadyExists
               : err == EACCES ? ErrorCode::kPermissionDenied
                               : ErrorCode::kInternal,
               what + " " + path.string() + ": " + std::strerror(err)};
}

Status write_all_and_sync(int fd, ByteView data, const std::filesystem::path& path) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(io_error("cannot write", path, errno));
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return std::unexpected(io_error("cannot fsync", path, errno));
  return {};
}

Status sync_directory(const std::filesystem::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(io_error("cannot open directory", dir, errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return std::unexpected(io_error("cannot fsync directory", dir, err));
  return {};
}
}  // namespace

Result<std::string> read_file(const std::filesystem::path& path, std::size_t limit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(io_error("cannot open", path, errno));
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return std::unexpected(io_error("cannot read", path, err));
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > limit) {
      ::close(fd);
      secure_wipe(out.data(), out.size());
      return fail(ErrorCode::kInvalidArgument, path.string() + " is larger than " + std::to_string(limit) + " bytes");
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  secure_wipe(buf, sizeof buf);
  ::close(fd);
  return out;
}

Status write_file_exclusive(const std::filesystem::path& path, ByteView data, unsigned mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) {
      return fail(ErrorCode::kAlreadyExists, path.string() + " already exists; refusing to overwrite it");
    }
    return std::unexpected(io_error("cannot create", path, errno));
  }
  ::fchmod(fd, mode);  // independent of the umask
  auto st = write_all_and_sync(fd, data, path);
  ::close(fd);
  if (!st) {
    ::unlink(path.c_str());
    return st;
  }
  return sync_directory(path.parent_path());
}

Status write_file_atomic(const std::filesystem::path& path, ByteView data, unsigned mode) {
  auto tmp = path;
  tmp += ".tmp-" + hex_encode(random_bytes(6));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return std::unexpected(io_error("cannot create", tmp, errno));
  ::fchmod(fd, mode);
  auto st = write_all_and_sync(fd, data, tmp);
  ::close(fd);
  if (!st) {
    ::unlink(tmp.c_str());
    return st;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return std::unexpected(io_error("cannot rename into", path, err));
  }
  return sync_directory(path.parent_path());
}

Status ensure_directory(const std::filesystem::path& path, unsigned mode) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return {};
  if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) return fail(ErrorCode::kInternal, "cannot create directory " + path.parent_path().string() + ": " + ec.message());
  }
  if (::mkdir(path.c_str(), mode) != 0) {
    if (errno == EEXIST && std::filesystem::is_directory(path, ec)) return {};
    return std::unexpected(io_error("cannot create directory", path, errno));
  }
  ::chmod(path.c_str(), mode);  // independent of the umask
  return {};
}

}  // namespace mpc::core
