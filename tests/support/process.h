// Test support: start real binaries, wait for files they write, kill them.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/unique_fd.h"

namespace mpc::testsupport {

// Path of a binary built by this project (from MPC_BINARY_DIR).
std::filesystem::path binary(const std::string& relative);

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs to completion (bounded by `timeout`; killed if it overruns).
RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::seconds(30));

// A child process, killed with SIGKILL on destruction if still running.
class Child {
 public:
  // `inherit`: (descriptor here, number in the child) pairs the child gets,
  // e.g. a held port's socket as 3.
  Child(const std::vector<std::string>& argv, const std::filesystem::path& log_file,
        const std::vector<std::pair<int, int>>& inherit = {});
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  void kill_hard();                       // SIGKILL and reap
  int terminate(std::chrono::milliseconds grace = std::chrono::seconds(10));  // SIGTERM, wait, exit code
  bool running();

 private:
  pid_t pid_ = -1;
};

// A loopback port that is bound but never listens, held for the object's
// lifetime: a connection to it is refused, and no other process can take it
// meanwhile (unlike a port picked free and released).
class ClosedPort {
 public:
  ClosedPort();  // movable (the socket moves along), not copyable
  std::uint16_t port() const { return port_; }
  std::string addr() const { return "127.0.0.1:" + std::to_string(port_); }
  // The bound socket, e.g. to hand to a child that listens on it (it stays
  // bound here too, so the port is never free in between).
  int fd() const { return fd_.get(); }

 private:
  core::UniqueFd fd_;
  std::uint16_t port_ = 0;
};

// Waits until `path` exists and is non-empty; returns its content (trimmed).
std::optional<std::string> wait_for_file(const std::filesystem::path& path, std::chrono::milliseconds timeout);

}  // namespace mpc::testsupport
