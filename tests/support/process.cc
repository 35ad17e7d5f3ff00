#include "support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>
#include <utility>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace mpc::testsupport {

namespace {

pid_t spawn(const std::vector<std::string>& argv, int out_fd, const std::vector<std::pair<int, int>>& inherit = {}) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 2);
  // dup2 onto the child's number clears close-on-exec there.
  for (const auto& [from, to] : inherit) posix_spawn_file_actions_adddup2(&actions, from, to);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

int wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (true) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

std::filesystem::path binary(const std::string& relative) {
  const char* dir = std::getenv("MPC_BINARY_DIR");
#ifdef MPC_BINARY_DIR_DEFAULT
  if (dir == nullptr) dir = MPC_BINARY_DIR_DEFAULT;
#endif
  if (dir == nullptr) throw std::runtime_error("MPC_BINARY_DIR is not set");
  return std::filesystem::path(dir) / relative;
}

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  auto log = std::filesystem::temp_directory_path() / ("mpc-run-" + std::to_string(::getpid()) + "-" +
                                                        std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  core::UniqueFd fd(::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) throw std::runtime_error("cannot open " + log.string());
  pid_t pid = spawn(argv, fd.get());
  fd.reset();
  RunResult r;
  r.exit_code = wait_exit(pid, timeout);
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  r.output = ss.str();
  std::filesystem::remove(log);
  return r;
}

Child::Child(const std::vector<std::string>& argv, const std::filesystem::path& log_file, const std::vector<std::pair<int, int>>& inherit) {
  core::UniqueFd fd(::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd) throw std::runtime_error("cannot open " + log_file.string());
  pid_ = spawn(argv, fd.get(), inherit);
}

Child::~Child() {
  if (pid_ > 0) kill_hard();
}

void Child::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

int Child::terminate(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int code = wait_exit(pid_, grace);
  pid_ = -1;
  return code;
}

bool Child::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

std::optional<std::string> wait_for_file(const std::filesystem::path& path, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(path);
    std::string content;
    if (in && std::getline(in, content) && !content.empty()) return content;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

ClosedPort::ClosedPort() {
  fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd_) throw std::runtime_error("ClosedPort: socket failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("ClosedPort: cannot bind a loopback port");
  port_ = ntohs(a.sin_port);
}

}  // namespace mpc::testsupport
