// FROST signing sessions as pure state machines: one Coordinator (the
// leader, itself a signer) and one Signer per other participant of the
// signing set. The node layer moves the messages (messages.h) between peers
// over its authenticated mesh, passes the authenticated sender's participant
// id with each, decides which requests are legitimate, and owns timeouts;
// nothing here does I/O, keeps time or spawns threads.
//
// Flow (n signers, leader L):
//   L: Coordinator::create(L, key, request); start(random) -> own commitment
//   L -> others: SignRequest
//   each S: Signer::create(S, L, key, request); commit(random) -> Commitment -> L
//   L: on_commitment(from, c) for each; after the last -> SigningPackage -> others
//   each S: on_signing_package(L, p) -> SignatureShare -> L
//   L: on_signature_share(from, s) for each; after the last -> the signature
//
// With the request's tweak t every signer signs with share + t and the
// signature verifies under group key + t·G (frost.h). The coordinator checks
// each share as it arrives (RFC 9591 verify_signature_share against the
// sender's announced verifying share + t·G) and verifies the aggregate with
// OpenSSL's Ed25519 under the derived key before returning it.
//
// Errors. A message that is not acceptable (unknown or unexpected sender,
// session id mismatch, duplicate, wrong phase, package not matching the
// signer set) is refused with kInvalidArgument / kFailedPrecondition naming
// what was wrong (and the sender), and changes nothing. Two outcomes end a
// session for good: a signature share that does not verify (kPermissionDenied
// naming the participant; blamed() returns it) or an aggregate that does not
// verify (kPermissionDenied), and an Abort from a party entitled to send it.
// Memory is bounded by the signer set (<= kMaxSigners entries).
//
// Nonces: a Signer draws its two nonces in commit() and can sign exactly one
// signing package; they are wiped when used, on abort and on destruction.
// A second package, or a second commit(), is refused.
//
// Not thread-safe; one object per session, driven by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/crypto.h"
#include "core/result.h"
#include "threshold/frost.h"
#include "threshold/messages.h"

namespace mpc::threshold {

// Fills 32 bytes with fresh randomness. Nodes pass os_random_source();
// tests pass a deterministic one.
using RandomSource = std::function<void(std::span<std::uint8_t, 32>)>;
// libsodium's randombytes_buf (the OS CSPRNG).
RandomSource os_random_source();
// 32 bytes from `random`, e.g. for a leader's new session id.
SessionId new_session_id(const RandomSource& random);

enum class SignerState {
  kCreated,    // waiting for commit()
  kCommitted,  // commitment sent, waiting for the signing package
  kDone,       // signature share produced; nonces wiped
  kAborted,    // aborted (locally or by the coordinator); nonces wiped
};
const char* signer_state_name(SignerState state);

class Signer {
 public:
  // REQUIRES (else kInvalidArgument): `request` passes check_sign_request,
  // its signers include my_id and coordinator_id, my_id != coordinator_id.
  // The caller has validated request_context (the contract request).
  static core::Result<Signer> create(std::uint64_t my_id, std::uint64_t coordinator_id, const KeyPackage& key,
                                     SignRequest request);

  Signer(Signer&&) noexcept = default;
  Signer& operator=(Signer&&) noexcept = default;
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  // Round one: draws the hiding and binding nonce randomness (two calls of
  // `random`) and returns the commitment to send to the coordinator. Once.
  core::Result<Commitment> commit(const RandomSource& random);
  // Round two. `from` must be the coordinator; the package must hold exactly
  // the request's signers and this signer's commitment unchanged. Once.
  core::Result<SignatureShare> on_signing_package(std::uint64_t from, const SigningPackage& package);
  // The coordinator gave up: the session ends, nonces are wiped. Refused
  // from anyone else.
  core::Status on_abort(std::uint64_t from, const Abort& abort);
  // Gives up locally (e.g. the node's deadline passed); the returned Abort
  // goes to the coordinator.
  Abort abort(std::string_view reason);

  // Dispatch for the node layer: SigningPackage -> SignatureShare to send;
  // Abort -> nothing to send; anything else is refused.
  core::Result<std::optional<Message>> handle(std::uint64_t from, const Message& message);

  SignerState state() const { return state_; }
  const SignRequest& request() const { return request_; }
  const SessionId& session() const { return request_.session; }
  std::uint64_t participant_id() const { return my_id_; }
  // The key the signature will verify under (group key + t·G).
  const Element& derived_public_key() const { return derived_key_; }

 private:
  Signer() = default;
  core::Status check_from(std::uint64_t from, const SessionId& session, const char* what) const;

  std::uint64_t my_id_ = 0;
  std::uint64_t coordinator_id_ = 0;
  Identifier identifier_ = 0;
  SignRequest request_;
  SecretScalar derived_share_;
  Element verifying_share_{};
  Element derived_key_{};
  std::optional<SigningNonces> nonces_;
  PackageEntry own_commitment_{};
  SignerState state_ = SignerState::kCreated;
};

enum class CoordinatorState {
  kCreated,                // waiting for start()
  kCollectingCommitments,  // own commitment made, waiting for the others'
  kCollectingShares,       // signing package sent, waiting for signature shares
  kDone,                   // signature produced
  kFailed,                 // a bad share, a bad aggregate, or an abort: no signature
};
const char* coordinator_state_name(CoordinatorState state);

// What the node layer must do after a coordinator step.
struct CoordinatorStep {
  std::optional<SigningPackage> broadcast;         // send to every other signer
  std::optional<core::Ed25519Signature> signature;  // the session's result
};

class Coordinator {
 public:
  // REQUIRES (else kInvalidArgument): `request` passes check_sign_request and
  // its signers include my_id. The request is what the leader sends to the
  // others (request()).
  static core::Result<Coordinator> create(std::uint64_t my_id, const KeyPackage& key, SignRequest request);

  Coordinator(Coordinator&&) noexcept = default;
  Coordinator& operator=(Coordinator&&) noexcept = default;
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // Draws the coordinator's own nonces (two calls of `random`). Once.
  core::Status start(const RandomSource& random);
  // A signer's commitment; the signing package once every signer's is in.
  core::Result<std::optional<SigningPackage>> on_commitment(std::uint64_t from, const Commitment& commitment);
  // A signer's share, verified at once; the verified signature once every
  // share is in.
  core::Result<std::optional<core::Ed25519Signature>> on_signature_share(std::uint64_t from,
                                                                         const SignatureShare& share);
  // A signer gave up: the session fails (error() says who and why).
  core::Status on_abort(std::uint64_t from, const Abort& abort);
  // Gives up locally; the returned Abort goes to every other signer.
  Abort abort(std::string_view reason);

  // Dispatch for the node layer (Commitment, SignatureShare, Abort).
  core::Result<CoordinatorStep> handle(std::uint64_t from, const Message& message);

  CoordinatorState state() const { return state_; }
  const SignRequest& request() const { return request_; }
  const SessionId& session() const { return request_.session; }
  const Element& derived_public_key() const { return derived_key_; }
  // Signers whose message of the current round has not arrived (for the
  // node layer's timeout message). Empty unless collecting.
  std::vector<std::uint64_t> waiting_for() const;
  // After kFailed: the participant whose share did not verify, if any.
  std::optional<std::uint64_t> blamed() const { return blamed_; }
  // After kFailed: why.
  const std::optional<core::Error>& failure() const { return failure_; }

 private:
  Coordinator() = default;
  core::Result<std::size_t> index_from(std::uint64_t from, const SessionId& session, const char* what) const;
  core::Error fail_session(core::Error error, std::optional<std::uint64_t> blamed);
  core::Result<SigningPackage> finish_round_one();

  struct Slot {
    std::uint64_t participant_id = 0;
    Identifier identifier = 0;
    std::optional<Commitment> commitment;
    Element derived_verifying_share{};
    std::optional<Scalar> share;
  };

  std::uint64_t my_id_ = 0;
  std::size_t my_index_ = 0;
  SignRequest request_;
  SecretScalar derived_share_;
  Element verifying_share_{};
  Element tweak_point_{};  // t·G; identity encoding when t = 0
  bool has_tweak_ = false;
  Element derived_key_{};
  std::optional<SigningNonces> nonces_;
  std::vector<Slot> slots_;  // one per signer, in request order
  std::optional<SigningContext> context_;
  CoordinatorState state_ = CoordinatorState::kCreated;
  std::optional<std::uint64_t> blamed_;
  std::optional<core::Error> failure_;
};

}  // namespace mpc::threshold
