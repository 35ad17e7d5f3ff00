#include "devnet/supervisor.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <cerrno>
#include <cstring>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <fstream>
#include <sstream>
#include <algorithm>
#include <thread>

#include "core/file_util.h"
#include "core/secret.h"
#include "core/unique_fd.h"
#include "near/contract_view.h"
#include "near/rpc_client.h"
#include "net/http_client.h"
#include "net/http_server.h"

extern char** environ;

namespace mpc::devnet {

namespace fs = std::filesystem;

namespace {

fs::path pid_file(const Devnet& net, const std::string& name) { return net.run_dir() / (name + ".pid"); }
fs::path log_file(const Devnet& net, const std::string& name) { return net.run_dir() / (name + ".log"); }

std::string read_cmdline(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  for (auto& c : s)
    if (c == '\0') c = ' ';
  return s;
}

// A recorded pid that is alive and still runs one of our binaries for this devnet.
// The process has exited and released its files (sockets, ports): gone, or a
// zombie. A process being killed loses its command line (its memory) before
// its files, so an empty command line alone does not mean its ports are free.
bool exited(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string stat_line;
  std::getline(stat, stat_line);
  const auto p = stat_line.rfind(')');
  return p != std::string::npos && p + 2 < stat_line.size() && (stat_line[p + 2] == 'Z' || stat_line[p + 2] == 'X');
}

std::optional<pid_t> live_pid(const Devnet& net, const std::string& name) {
  auto text = core::read_file(pid_file(net, name), 64);
  if (!text) return std::nullopt;
  pid_t pid = 0;
  try {
    pid = static_cast<pid_t>(std::stol(*text));
  } catch (...) {
    return std::nullopt;
  }
  if (pid <= 1 || exited(pid)) return std::nullopt;
  const std::string cmd = read_cmdline(pid);
  if (cmd.find(net.dir.string()) == std::string::npos) return std::nullopt;  // pid reused by something else
  if (cmd.find("mpc-sandbox") == std::string::npos && cmd.find("mpc-node") == std::string::npos) return std::nullopt;
  return pid;
}

std::string log_tail(const fs::path& log, std::size_t lines = 15) {
  std::ifstream in(log);
  std::vector<std::string> all;
  for (std::string l; std::getline(in, l);) all.push_back(l);
  std::string out;
  for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) out += "\n    | " + all[i];
  return out;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

core::Status check_port_free_now(const std::string& addr, const std::string& what);

// A port the devnet bound before can stay busy for a moment after its
// process was killed (its sockets are torn down after the process is gone):
// `attempt` (a bind of such a port) is retried, up to a deadline, before
// its failure stands.
template <class Attempt>
auto retry_while_busy(const Attempt& attempt) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    auto result = attempt();
    if (result || std::chrono::steady_clock::now() >= deadline) return result;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

core::Status check_port_free(const std::string& addr, const std::string& what) {
  return retry_while_busy([&] { return check_port_free_now(addr, what); });
}
core::Status check_port_free_now(const std::string& addr, const std::string& what) {
  auto endpoint = net::parse_listen_address(addr);
  if (!endpoint) return std::unexpected(endpoint.error());
  if (endpoint->port() == 0) return {};  // the service picks one itself
  // Bound exactly as the services bind (SO_REUSEADDR: connections in
  // TIME_WAIT from a previous run do not make a port busy), then released.
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor(ioc);
  if (auto bound = net::bind_listener(acceptor, *endpoint); !bound)
    return core::fail(core::ErrorCode::kUnavailable, "port " + addr + " (" + what + ") is not free: " + bound.error().message +
                                                         "; stop what uses it, or recreate the devnet to get new ports");
  return {};
}

// Starts `argv` detached: own session, stdin /dev/null, output appended to `log`.
core::Result<pid_t> spawn_detached(const std::vector<std::string>& argv, const fs::path& log,
                                   const std::vector<std::pair<std::string, std::string>>& env, int hand_down_as_3 = -1) {
  core::UniqueFd fd(::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd) return core::fail(core::ErrorCode::kInternal, "cannot open " + log.string());
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // The child's environment is built before fork(): between fork and exec a
  // multi-threaded parent's child may only call async-signal-safe functions.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    const auto name = entry.substr(0, entry.find('='));
    const bool overridden = std::any_of(env.begin(), env.end(), [&](const auto& kv) { return kv.first == name; });
    if (!overridden) env_strings.emplace_back(entry);
  }
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return core::fail(core::ErrorCode::kInternal, "fork failed");
  if (pid == 0) {
    ::setsid();
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(fd.get(), 1);
    ::dup2(fd.get(), 2);
    if (hand_down_as_3 == 3) {
      ::fcntl(3, F_SETFD, 0);  // keep it across exec
    } else if (hand_down_as_3 >= 0) {
      ::dup2(hand_down_as_3, 3);  // the copy is not close-on-exec
    }
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  fd.reset();
  for (auto& e : env_strings) core::secure_wipe(e.data(), e.size());  // a node's AES key is among them
  return pid;
}

bool reap_if_exited(pid_t pid) {
  int status = 0;
  pid_t r = ::waitpid(pid, &status, WNOHANG);
  if (r == pid) return true;
  if (r < 0) return ::kill(pid, 0) != 0;  // not our child: alive iff signalable
  return false;
}

core::Status wait_until(const std::string& what, pid_t pid, const fs::path& log, std::chrono::milliseconds timeout,
                        const std::function<bool()>& ready) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (reap_if_exited(pid))
      return core::fail(core::ErrorCode::kUnavailable, what + " exited during startup; its log " + log.string() + " ends:" + log_tail(log));
    if (ready()) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return core::fail(core::ErrorCode::kTimeout, what + " was not ready after " + std::to_string(timeout.count()) + " ms; its log " +
                                                   log.string() + " ends:" + log_tail(log));
}

bool http_ok(const std::string& url) {
  auto parsed = net::Url::parse(url);
  if (!parsed) return false;
  net::HttpClient client(*parsed, net::HttpClientOptions{std::chrono::milliseconds(1000)});
  auto r = client.get();
  return r && r->status == 200;
}

core::Status record_pid(const Devnet& net, const std::string& name, pid_t pid) {
  return core::write_file_atomic(pid_file(net, name), core::as_bytes(std::to_string(pid) + "\n"), 0600);
}

}  // namespace

fs::path self_dir() {
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::current_path() : exe.parent_path();
}

std::vector<ProcessInfo> devnet_processes(const Devnet& net) {
  std::vector<ProcessInfo> out;
  auto add = [&](const std::string& name) {
    auto pid = live_pid(net, name);
    out.push_back({name, pid.value_or(0), pid.has_value(), log_file(net, name)});
  };
  add("sandbox");
  for (std::size_t i = 0; i < net.nodes.size(); ++i) add("node" + std::to_string(i));
  return out;
}

// Binds and listens on the TCP address a node's P2P mesh will listen on, so
// that nothing else — the devnet's own services binding port 0 included —
// takes it before the node inherits it. Waits for a port still held by a
// just-killed process, like check_port_free.
core::Result<core::UniqueFd> hold_port(const std::string& addr, const std::string& what) {
  MPC_ASSIGN(auto endpoint, net::parse_listen_address(addr));
  return retry_while_busy([&]() -> core::Result<core::UniqueFd> {
    core::UniqueFd fd(::socket(endpoint.address().is_v6() ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return core::fail(core::ErrorCode::kInternal, "cannot create a socket for " + what);
    const int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // Listening already: a port that another socket shares (say, as the
    // source port of its connection) fails here, not in the node later.
    // Dials that arrive meanwhile wait in the backlog for the node.
    if (::bind(fd.get(), endpoint.data(), static_cast<socklen_t>(endpoint.size())) == 0 &&
        ::listen(fd.get(), SOMAXCONN) == 0)
      return fd;
    return core::fail(core::ErrorCode::kUnavailable, "port " + addr + " (" + what + ") is not free: " + std::strerror(errno) +
                                                         "; stop what uses it, or recreate the devnet to get new ports");
  });
}

static core::Result<ProcessInfo> start_node_holding(Devnet& net, std::size_t index, const UpOptions& options, core::UniqueFd p2p_socket) {
  auto& n = net.nodes.at(index);
  const std::string name = "node" + std::to_string(index);
  if (auto pid = live_pid(net, name)) return ProcessInfo{name, *pid, true, log_file(net, name)};
  const fs::path bin = options.bin_dir / "mpc-node";
  if (!fs::exists(bin)) return core::fail(core::ErrorCode::kNotFound, "binary not found: " + bin.string() + " (build the project first, or set MPC_BIN_DIR)");
  MPC_TRY(check_port_free(n.migration_addr, name + " migration endpoint"));
  MPC_TRY(check_port_free(n.metrics_addr, name + " metrics"));
  MPC_ASSIGN(std::string key_raw, core::read_file(net.path(n.encryption_key), 256));
  core::SecretString key(std::move(key_raw));
  std::error_code ec;
  fs::remove(net.path(n.home) / "migration.addr", ec);
  fs::remove(net.path(n.home) / "metrics.addr", ec);
  std::vector<std::string> argv = {bin.string(), "run", "--home", net.path(n.home).string(), "--rpc-url", net.rpc_url(),
                                   "--contract-id", net.contract_id, "--p2p-url", n.p2p_url(), "--p2p-listen-fd", "3",
                                   "--migration-addr", n.migration_addr, "--metrics-addr",
                                   n.metrics_addr, "--poll-interval-ms", std::to_string(options.poll_interval.count()),
                                   // A local network: the contract is configured for development.
                                   "--tee-attestation", "mock"};
  if (net.hard_launch) argv.push_back("--require-attested-backup-service");
  if (options.sign_takeover) argv.insert(argv.end(), {"--sign-takeover-ms", std::to_string(options.sign_takeover->count())});
  if (options.sign_session_timeout)
    argv.insert(argv.end(), {"--sign-session-timeout-ms", std::to_string(options.sign_session_timeout->count())});
  MPC_ASSIGN(pid_t pid, spawn_detached(argv, log_file(net, name), {{"MPC_BACKUP_ENCRYPTION_KEY_HEX", key.reveal()}}, p2p_socket.get()));
  p2p_socket.reset();  // the node has its own copy
  MPC_TRY(record_pid(net, name, pid));
  // The node writes the addresses it bound (port 0 picks); they are the
  // devnet's from now on.
  MPC_TRY(wait_until(name, pid, log_file(net, name), options.ready_timeout, [&] {
    auto migration = core::read_file(net.path(n.home) / "migration.addr", 256);
    auto metrics = core::read_file(net.path(n.home) / "metrics.addr", 256);
    if (!migration || !metrics || migration->empty() || metrics->empty()) return false;
    return http_ok("http://" + trim(*metrics) + "/metrics");
  }));
  const std::string migration = trim(*core::read_file(net.path(n.home) / "migration.addr", 256));
  const std::string metrics = trim(*core::read_file(net.path(n.home) / "metrics.addr", 256));
  if (migration != n.migration_addr || metrics != n.metrics_addr) {
    n.migration_addr = migration;
    n.metrics_addr = metrics;
    MPC_TRY(net.save());
  }
  return ProcessInfo{name, pid, true, log_file(net, name)};
}

core::Result<model::Keyset> wait_for_keys(const Devnet& net, std::chrono::milliseconds timeout) {
  MPC_ASSIGN(auto rpc, near::RpcClient::create(net.rpc_url(), near::RpcClientOptions{std::chrono::seconds(10)}));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last = "no answer from the chain";
  for (;;) {
    auto view = near::read_contract_view(*rpc, net.contract_id);
    if (view) {
      if (const auto* running = view->state.running();
          running != nullptr && running->keyset.domains.size() == running->domains.domains.size()) {
        return running->keyset;
      }
      last = std::string("the contract is ") + view->state.name();
      if (const auto* init = std::get_if<model::InitializingState>(&view->state.state)) {
        last += " (generating domain " + init->generating_key.value("domain", nlohmann::json::object()).value("id", nlohmann::json(0)).dump() +
                ", " + std::to_string(init->generated_keys.size()) + " of " + std::to_string(init->domains.domains.size()) +
                " keys done; attempt " + init->generating_key.value("instance", nlohmann::json()).dump() + ")";
      }
    } else {
      last = view.error().message;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::string logs;
  for (std::size_t i = 0; i < net.nodes.size(); ++i) {
    logs += "\n--- node" + std::to_string(i) + " ---\n" + log_tail(log_file(net, "node" + std::to_string(i)), 6);
  }
  return core::fail(core::ErrorCode::kTimeout, "the network has no key for every domain after " + std::to_string(timeout.count()) +
                                                   " ms: " + last + logs);
}

core::Result<ProcessInfo> start_node(Devnet& net, std::size_t index, const UpOptions& options) {
  const std::string name = "node" + std::to_string(index);
  if (auto pid = live_pid(net, name)) return ProcessInfo{name, *pid, true, log_file(net, name)};
  MPC_ASSIGN(auto held, hold_port(net.nodes.at(index).p2p_addr, name + " P2P"));
  return start_node_holding(net, index, options, std::move(held));
}

core::Result<std::vector<ProcessInfo>> devnet_up(Devnet& net, const UpOptions& options) {
  MPC_TRY(core::ensure_directory(net.run_dir(), 0700));
  for (const char* bin : {"mpc-sandbox", "mpc-node"})
    if (!fs::exists(options.bin_dir / bin))
      return core::fail(core::ErrorCode::kNotFound, std::string("binary not found: ") + (options.bin_dir / bin).string() +
                                                        " (build the project first, or set MPC_BIN_DIR)");
  std::vector<ProcessInfo> started;
  auto undo = [&](core::Error e) -> core::Result<std::vector<ProcessInfo>> {
    for (auto it = started.rbegin(); it != started.rend(); ++it) (void)stop_process(net, it->name, false);
    return std::unexpected(std::move(e));
  };

  // The P2P ports are named in the contract: held from here, before the
  // sandbox and the nodes bind their port-0 listeners, until each node
  // inherits its own.
  std::vector<core::UniqueFd> p2p(net.nodes.size());
  for (std::size_t i = 0; i < net.nodes.size(); ++i) {
    if (live_pid(net, "node" + std::to_string(i))) continue;
    auto held = hold_port(net.nodes[i].p2p_addr, "node" + std::to_string(i) + " P2P");
    if (!held) return std::unexpected(held.error());
    p2p[i] = std::move(*held);
  }

  if (auto running = live_pid(net, "sandbox")) {
    started.push_back({"sandbox", *running, true, log_file(net, "sandbox")});
  } else {
    if (auto st = check_port_free(net.rpc_addr, "sandbox JSON-RPC"); !st) return std::unexpected(st.error());
    std::error_code ec;
    fs::remove(net.chain_home() / "rpc.addr", ec);
    auto pid = spawn_detached({(options.bin_dir / "mpc-sandbox").string(), "run", "--home", net.chain_home().string(), "--rpc-addr",
                               net.rpc_addr, "--block-interval-ms", std::to_string(options.block_interval.count())},
                              log_file(net, "sandbox"), {});
    if (!pid) return std::unexpected(pid.error());
    if (auto st = record_pid(net, "sandbox", *pid); !st) return undo(st.error());
    started.push_back({"sandbox", *pid, true, log_file(net, "sandbox")});
    auto ready = wait_until("sandbox", *pid, log_file(net, "sandbox"), options.ready_timeout, [&] {
      auto addr = core::read_file(net.chain_home() / "rpc.addr", 256);
      return addr && !trim(*addr).empty();
    });
    if (!ready) return undo(ready.error());
    const std::string bound = trim(*core::read_file(net.chain_home() / "rpc.addr", 256));
    if (bound != net.rpc_addr) {
      net.rpc_addr = bound;
      if (auto st = net.save(); !st) return undo(st.error());
    }
  }
  for (std::size_t i = 0; i < net.nodes.size(); ++i) {
    auto node = start_node_holding(net, i, options, std::move(p2p[i]));
    if (!node) return undo(node.error());
    started.push_back(*node);
  }
  return started;
}

core::Status stop_process(const Devnet& net, const std::string& name, bool hard, std::chrono::milliseconds grace) {
  auto pid = live_pid(net, name);
  std::error_code ec;
  if (!pid) {
    fs::remove(pid_file(net, name), ec);
    return {};
  }
  ::kill(*pid, hard ? SIGKILL : SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    reap_if_exited(*pid);
    if (exited(*pid)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!exited(*pid)) {
    ::kill(*pid, SIGKILL);
    for (int i = 0; i < 100 && !exited(*pid); ++i) {
      reap_if_exited(*pid);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  if (!exited(*pid)) return core::fail(core::ErrorCode::kInternal, "cannot stop " + name + " (pid " + std::to_string(*pid) + ")");
  fs::remove(pid_file(net, name), ec);
  return {};
}

core::Result<std::vector<ProcessInfo>> devnet_down(const Devnet& net, std::chrono::milliseconds grace) {
  auto before = devnet_processes(net);
  for (std::size_t i = net.nodes.size(); i-- > 0;) MPC_TRY(stop_process(net, "node" + std::to_string(i), false, grace));
  MPC_TRY(stop_process(net, "sandbox", false, grace));
  return before;
}

}  // namespace mpc::devnet
