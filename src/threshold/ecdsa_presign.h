// Threshold ECDSA presigning on secp256k1: the presignature phase of the
// honest-majority protocol of Damgård, Jakobsen, Nielsen, Pagter and
// Østergaard ("Fast threshold ECDSA with honest majority", eprint 2020/501),
// as the reference's `DamgardEtAl` (robust_ecdsa) protocol runs it, as a
// pure state machine. The node layer moves the messages over its
// authenticated mesh (passing the authenticated sender), owns timeouts and
// stores the output durably; nothing here does I/O, keeps time or spawns
// threads.
//
// Parameters. The key is shared with reconstruction threshold T (shares at
// x = participant id + 1, degree t = T - 1, as every key share of the
// network). A presignature is made by a set P of exactly 2t + 1 = 2T - 1
// participants and later used by exactly the same set: the reference allows
// no other size (larger presigning sets or smaller signing sets enable the
// split-view key-extraction attacks documented in its
// docs/ecdsa/robust_ecdsa/signing.md), so neither do we.
//
// Rounds (every participant i of P; x_j = id_j + 1):
//   1. i draws f_k, f_a of degree t (random) and f_b, f_d, f_e of degree 2t
//      with zero constant term, and sends every other j privately
//      PresignShares (f_k(x_j), f_a(x_j), f_b(x_j), f_d(x_j), f_e(x_j)).
//   2. Having everyone's, i sums them: k_i, a_i, b_i, d_i, e_i (shares of
//      random k, a of degree t and of zero of degree 2t), and broadcasts
//      PresignOpen (R_i = k_i·G, w_i = a_i·k_i + b_i).
//   3. Having everyone's: the R_j must lie on one polynomial of degree t
//      (exponent interpolation of the first t + 1 at every other x_j);
//      R = that polynomial at 0 (= k·G), not the identity; w = the
//      interpolation at 0 of all 2t + 1 w_j (= a·k), not zero. i broadcasts
//      PresignW (W_i = a_i·R).
//   4. Having everyone's: the W_j must lie on one polynomial of degree t, and
//      its value at 0 (= a·R = a·k·G) must equal w·G. Then
//        c_i = a_i·w^-1            (a degree-t share of k^-1)
//        alpha_i = c_i + d_i       (a degree-2t share of k^-1)
//        beta_i = c_i·x_i          (a degree-2t share of k^-1·x, x_i our key share)
//      and the presignature is (R, alpha_i, beta_i, c_i, e_i).
//
// Errors. A message that is not acceptable (unknown sender or ourselves,
// wrong session, duplicate, malformed) is refused with an error naming what
// was wrong and the sender, and changes nothing. A check of round 3 or 4
// that fails makes the session fail for good: the message that completed
// the round is accepted (on_message returns nothing) and failure() says why;
// blamed() names the one participant whose R_j (or W_j) alone is off the
// polynomial when exactly one such participant explains the inconsistency
// (possible only for t >= 2); otherwise nullopt. A bad w_j cannot be
// attributed (w has no redundancy); the W check catches it all the same.
// A participant that stays silent stalls the session until the node's
// deadline (the node then discards the attempt).
//
// Secrets (polynomials, the summed shares, the output) are wiped on
// destruction. The payload of a private PresignShares message (Outgoing with
// `to` set) holds secret scalars: the node should wipe it
// (core::secure_wipe) once sent.
//
// Not thread-safe; one object per presignature attempt.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "core/secret.h"
#include "threshold/curve.h"
#include "threshold/ecdsa_messages.h"  // kMaxEcdsaParticipants
#include "threshold/key_event.h"        // Outgoing
#include "threshold/signing_session.h"  // RandomSource, SessionId

namespace mpc::threshold {


// 2·threshold - 1: the size of every presigning and signing set.
std::size_t ecdsa_signer_count(std::uint64_t threshold);

struct PresignSetup {
  // Binds every message to this attempt (the node derives it, e.g. from the
  // presignature id the initiating node chose).
  SessionId session{};
  std::uint64_t self = 0;
  // The presigning set (ascending participant ids), exactly
  // ecdsa_signer_count(threshold) of them, all holding shares of the key.
  std::vector<std::uint64_t> participants;
  // The key's reconstruction threshold T (>= 2).
  std::uint64_t threshold = 0;
  // Our secp256k1 key share x_self (32 bytes, big-endian, < n: the bytes of
  // model::Keyshare private_share hex).
  core::SecretBytes key_share;
};

// What one participant keeps of a presignature, and all it keeps.
//
// USE AT MOST ONCE. Two signatures from one presignature (even a partial or
// aborted signing that sent its share) reveal the key. The node must mark a
// presignature used durably BEFORE it sends a signature share from it, and
// must discard every presignature when the key (epoch, resharing) or the
// participant set changes: it was made with the old key share.
struct Presignature {
  std::vector<std::uint64_t> participants;  // the presigning set = the only signing set it can serve
  std::uint64_t threshold = 0;
  std::uint64_t self = 0;
  CurvePoint big_r;    // R = k·G (33-byte SEC1 compressed), public
  CurveScalar alpha;   // share of k^-1 (degree 2t, masked by d)   — secret
  CurveScalar beta;    // share of k^-1·x (degree 2t)               — secret
  CurveScalar c;       // share of k^-1 (degree t; for the tweak)   — secret
  CurveScalar e;       // share of zero (degree 2t; masks s_i)      — secret
};

// The stored form of a Presignature, for the node's durable pool (secret).
// Version 1: u8 1 | u8 count | count x u64 id | u64 threshold | u64 self |
// R (33) | alpha | beta | c | e (32 each), integers little-endian.
core::SecretBytes encode_presignature(const Presignature& presignature);
// kInvalidArgument naming the field on anything malformed (never shows
// secret bytes).
core::Result<Presignature> decode_presignature(core::ByteView bytes);

class PresignSession {
 public:
  // Checks the setup (set size against the threshold, ascending ids, self in
  // the set, the key share's encoding) and draws this node's five
  // polynomials from `random`.
  static core::Result<PresignSession> create(PresignSetup setup, const RandomSource& random);
  ~PresignSession();
  PresignSession(PresignSession&&) noexcept;
  PresignSession& operator=(PresignSession&&) noexcept;

  // Round 1: the private PresignShares for every other participant (and the
  // PresignOpen broadcast too when all shares already arrived). Messages
  // received before start() are kept; nothing is sent before it. Once; later
  // calls return nothing.
  std::vector<Outgoing> start();
  // A message from authenticated participant `from`. Returns what to send in
  // reaction (possibly nothing); on error nothing changed.
  core::Result<std::vector<Outgoing>> on_message(std::uint64_t from, core::ByteView payload);

  bool done() const;
  // The presignature, once done; moves it out (later calls: nullopt).
  std::optional<Presignature> take_output();
  std::optional<std::string> failure() const;
  std::optional<std::uint64_t> blamed() const;
  // Participants whose message of the current round has not arrived (for the
  // node's timeout message). Empty once done or failed.
  std::vector<std::uint64_t> waiting_for() const;

  struct Impl;

 private:
  explicit PresignSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mpc::threshold
