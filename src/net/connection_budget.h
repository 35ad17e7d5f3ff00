// Admission control for the migration endpoint's connections: pure
// bookkeeping over connection ids, no I/O and no locking (MtlsServer
// serialises every call under its mutex), so every rule is unit-tested with
// plain values.
//
// Two budgets:
//   pre-auth       accepted, TLS handshake and authorisation not finished.
//                  Anyone on the network can open these, so they never refuse
//                  a newcomer: when `max_preauth` is reached the OLDEST
//                  pre-auth connection is evicted, and a source address that
//                  already holds `max_preauth_per_source` gives up ITS oldest.
//                  An attacker holding or churning connections therefore only
//                  ever displaces its own (or, spread over many addresses,
//                  the oldest ones), and a fresh handshake always gets a slot.
//   authenticated  handshake done and the peer's key authorised: only the
//                  registered key gets here; beyond `max_authenticated` the
//                  newcomer is refused.
// Ids are handed out in increasing order, so "oldest" is "smallest id".
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio/ip/address.hpp>

namespace mpc::net {

struct ConnectionLimits {
  std::size_t max_preauth = 256;
  std::size_t max_preauth_per_source = 8;
  std::size_t max_authenticated = 64;
};

enum class EvictionReason {
  kPreauthBudget,  // the pre-auth budget was full: the oldest overall goes
  kPerSourceCap,   // the source already held its share: its oldest goes
};
// The metrics label of an eviction (mpc_connections_refused_total{reason}).
const char* eviction_label(EvictionReason reason);

struct Eviction {
  std::uint64_t id = 0;
  EvictionReason reason = EvictionReason::kPreauthBudget;
  bool operator==(const Eviction&) const = default;
};

struct Admission {
  std::uint64_t id = 0;              // the new connection
  std::optional<Eviction> evicted;   // the connection to close to make room
};

enum class Promotion {
  kAuthenticated,  // now counted in the authenticated budget
  kFull,           // the authenticated budget is full: refuse (slot released)
  kGone,           // not pre-auth (already evicted or released): just stop
};

class ConnectionBudget {
 public:
  using Source = boost::asio::ip::address;

  // Limits of 0 are raised to 1.
  explicit ConnectionBudget(ConnectionLimits limits);

  // A new connection from `source`: always admitted as pre-auth, at the cost
  // of at most one eviction (per-source first, otherwise budget-wide).
  Admission admit(const Source& source);
  // The handshake and authorisation of `id` succeeded.
  Promotion promote(std::uint64_t id);
  // `id` is closed (or refused): frees its slot, wherever it is. Idempotent.
  void release(std::uint64_t id);

  bool is_preauth(std::uint64_t id) const { return preauth_.count(id) > 0; }
  bool is_authenticated(std::uint64_t id) const { return authenticated_.count(id) > 0; }
  std::size_t preauth() const { return preauth_.size(); }
  std::size_t authenticated() const { return authenticated_.size(); }
  std::size_t preauth_from(const Source& source) const;
  const ConnectionLimits& limits() const { return limits_; }

 private:
  void forget_preauth(std::uint64_t id);

  ConnectionLimits limits_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, Source> preauth_;  // oldest first
  std::unordered_map<Source, std::set<std::uint64_t>> by_source_;
  std::unordered_set<std::uint64_t> authenticated_;
};

}  // namespace mpc::net
