// Distributed key generation and resharing as pure state machines, generic
// over the curve (Ed25519 and secp256k1): the protocols behind the
// contract's key events. The node layer moves the messages between peers over
// its authenticated mesh (passing the authenticated sender's participant id),
// owns timeouts (the contract's `expires_on`), stores the output durably and
// votes; nothing here does I/O, keeps time or spawns threads.
//
// Shares live at x = participant id + 1, as everywhere in the network, so
// the output is a model::Keyshare like any other (same encodings).
//
// Key generation (Pedersen's DKG with Feldman commitments, as in FROST's
// keygen, RFC 9591 Appendix C and Komlo-Goldberg §5.1): every participant
// deals a random polynomial of degree threshold - 1; it broadcasts the
// commitments to its coefficients with a Schnorr proof of knowledge of the
// constant term (bound to the session and the dealer), and sends each
// participant its evaluation privately. Resharing (old holders D = the
// current participants that stay, |D| >= old threshold; joining nodes deal
// nothing): each dealer i deals a polynomial whose constant term is
// lambda_i(D) * old share_i, so the new shares are shares of the SAME key;
// the sum of the dealers' constant-term commitments must equal the old
// group key. Refresh is resharing to the same set and threshold.
//
// Rounds (all participants of the new set, n of them; dealers deal):
//   1. Deal: each dealer broadcasts Commitments (+ proof of knowledge for
//      keygen) and sends each participant its Share privately.
//   2. Echo: once it has every dealer's commitments, each participant
//      broadcasts the hash of everything it received publicly; every
//      participant must see the same hashes from everyone (echo broadcast:
//      a dealer that equivocated is caught), else the session fails.
//      A participant whose private share does not match the dealer's
//      commitments broadcasts a Complaint against that dealer instead of
//      (alongside) its echo.
//   3. Complaints: a dealer accused by a complaint answers with a public
//      Reveal of that share; everyone checks it against the commitments.
//      A dealer whose answer is missing (the node layer's timeout) or does
//      not verify is excluded (keygen: the key is the sum over the
//      remaining dealers; resharing: excluding a dealer makes the sum check
//      impossible, so the session fails naming it). The complainer uses a
//      revealed share that verifies. A second echo over the complaints and
//      answers makes everyone agree on the excluded set.
//   4. Output: group key = sum of the qualified dealers' constant-term
//      commitments; own share = sum of the qualified dealers' shares to us;
//      checked: own share * G == the combined commitment polynomial at our x.
//
// Errors. A message that is not acceptable (unknown sender, wrong session,
// duplicate, wrong phase, malformed) is refused with an error naming what was
// wrong and the sender, and changes nothing. A session fails for good (and
// says why, naming the participant to blame when there is one) when echoes
// disagree, a reshare sum check fails, or too few dealers remain.
//
// Details this implementation fixes (key_event_messages.h has the wire):
//   - Proof of knowledge (keygen): Schnorr, R = k·G, z = k + c·a_0 with
//     c = SHA-512(tag, curve name, session, dealer id, a_0·G, R) reduced mod
//     the order (curve.h reduce_wide: Ed25519 reads it little-endian,
//     secp256k1 big-endian). A dealer whose proof fails is excluded.
//   - Echo: one SHA-256 per dealer over the setup (curve, kind, session,
//     participants, thresholds, dealers, old group key) and that dealer's
//     Commitments as received; the Echo also lists the dealers we complain
//     about. A second round (Confirm: one SHA-256 over every dealer's echo
//     digest, complainers, the answer used and the verdict) always follows,
//     so every participant settles on the same excluded set.
//   - Every participant must echo and confirm: one that stays silent stalls
//     the session until the node's deadline, like a dealer that withholds
//     its Commitments or a Share (the node then gives up on the attempt).
//   - A message that makes the session fail is accepted (on_message returns
//     no messages); failure() then says why.
//   - blamed(): the dealer whose own echo contradicts what it sent us, the
//     dealer excluded from a reshare, the single excluded dealer when too
//     few remain; nullopt when the evidence does not single anyone out (an
//     echo disagreement between two others, a failed sum check).
//
// Secrets (polynomial coefficients, shares) are wiped on destruction; the
// output share is a core::SecretBytes. The payload of a private Share
// message (Outgoing with `to` set) holds a secret scalar: the node should
// wipe it (core::secure_wipe) once sent.
//
// Not thread-safe; one object per key event attempt.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "core/secret.h"
#include "threshold/curve.h"            // KeyCurve
#include "threshold/signing_session.h"  // RandomSource, SessionId

namespace mpc::threshold {

// enum class KeyCurve { kEd25519, kSecp256k1 } lives in threshold/curve.h.
enum class KeyEventKind { kKeygen, kReshare };

struct KeyEventSetup {
  KeyCurve curve = KeyCurve::kEd25519;
  KeyEventKind kind = KeyEventKind::kKeygen;
  // Binds every message and proof to this attempt (the node derives it from
  // the contract's key event id).
  SessionId session{};
  std::uint64_t self = 0;
  // The new set (ascending participant ids) and its reconstruction
  // threshold (2 <= threshold <= participants.size()).
  std::vector<std::uint64_t> participants;
  std::uint64_t threshold = 0;
  // Resharing only:
  //   dealers: the old holders that deal (ascending; a subset of
  //            participants; |dealers| >= old_threshold);
  //   old_threshold: the old reconstruction threshold;
  //   old_share: our old share if self is a dealer (the curve's encoding,
  //              as model::Keyshare holds it decoded from hex);
  //   old_group_key: the key being reshared (the curve's compressed
  //              encoding: 32-byte Edwards / 33-byte SEC1).
  std::vector<std::uint64_t> dealers;
  std::uint64_t old_threshold = 0;
  std::optional<core::SecretBytes> old_share;
  core::Bytes old_group_key;
};

struct KeyEventOutput {
  core::Bytes group_key;          // 32-byte Edwards point / 33-byte SEC1 compressed
  core::SecretBytes share;        // 32 bytes: Ed25519 little-endian scalar / secp256k1 big-endian scalar
  std::vector<std::uint64_t> excluded_dealers;  // keygen: dealers excluded after complaints
};

// A message to send: to one participant, or (to == nullopt) to every other
// participant of the session.
struct Outgoing {
  std::optional<std::uint64_t> to;
  core::Bytes payload;
};

class KeyEventSession {
 public:
  // Checks the setup (sizes, thresholds, self in participants, the old
  // share's encoding) and draws this node's polynomial from `random`.
  static core::Result<KeyEventSession> create(KeyEventSetup setup, const RandomSource& random);
  ~KeyEventSession();
  KeyEventSession(KeyEventSession&&) noexcept;
  KeyEventSession& operator=(KeyEventSession&&) noexcept;

  // Round 1: what this node sends first (empty for a non-dealer; may also
  // hold an Echo when everything else already arrived). Messages received
  // before start() are kept; nothing is sent before it. Once; later calls
  // return nothing.
  std::vector<Outgoing> start();
  // A message from authenticated participant `from`. Returns what to send in
  // reaction (possibly nothing); on error nothing changed.
  core::Result<std::vector<Outgoing>> on_message(std::uint64_t from, core::ByteView payload);
  // The node layer's deadline for complaint answers passed: dealers that
  // have not answered are excluded (see above). Returns what to send. Does
  // nothing unless the session is waiting for answers (echoes agreed,
  // complaints pending); answers arriving later are refused.
  std::vector<Outgoing> on_complaint_timeout();

  bool done() const;                      // output() is available
  const KeyEventOutput* output() const;   // when done
  std::optional<std::string> failure() const;  // set when the session failed for good
  std::optional<std::uint64_t> blamed() const; // a participant to blame, when known

  struct Impl;

 private:
  explicit KeyEventSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True when `payload` is (by its header) a key event message, as opposed to
// a signing message (threshold/messages.h): the node routes on it.
bool is_key_event_message(core::ByteView payload);
// The session id a key event message carries (header only; no validation of
// the body), so the node can route it to its session or buffer it.
std::optional<SessionId> key_event_session_of(core::ByteView payload);

}  // namespace mpc::threshold
