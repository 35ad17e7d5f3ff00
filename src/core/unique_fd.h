// An owned POSIX file descriptor: closed when the owner goes away, on every
// path out. Movable, not copyable. -1 means "none".
//
// Thread safety: like an int; one owner at a time.
#pragma once

#include <utility>

namespace mpc::core {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  // Gives the descriptor up without closing it.
  [[nodiscard]] int release() { return std::exchange(fd_, -1); }
  // Closes the held descriptor (if any) and holds `fd`. close(2) errors are
  // ignored: the descriptor is gone either way (callers that must know
  // whether data reached the disk fsync first).
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

}  // namespace mpc::core
