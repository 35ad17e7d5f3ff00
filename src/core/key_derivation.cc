#include "core/key_derivation.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <sodium.h>

#include <cstdlib>
#include <memory>

#include "core/openssl_ptr.h"

namespace mpc::core {

namespace {

void ensure_sodium() {
  // Idempotent and thread-safe; fails only if the library cannot work at all.
  static const int ok = sodium_init();
  if (ok < 0) std::abort();
}

// Wipes a fixed-size scratch buffer on scope exit.
template <std::size_t N>
struct Scratch {
  std::array<std::uint8_t, N> b{};
  ~Scratch() { sodium_memzero(b.data(), b.size()); }
  std::uint8_t* data() { return b.data(); }
};

// A 32-byte little-endian integer reduced mod L.
void reduce32(const std::uint8_t* in, std::uint8_t* out) {
  Scratch<crypto_core_ed25519_NONREDUCEDSCALARBYTES> wide;
  std::copy(in, in + 32, wide.data());
  crypto_core_ed25519_scalar_reduce(out, wide.data());
}

}  // namespace

Tweak derive_tweak(std::string_view predecessor_account_id, std::string_view path) {
  std::string text;
  text.reserve(kTweakDerivationPrefix.size() + predecessor_account_id.size() + 1 + path.size());
  text.append(kTweakDerivationPrefix).append(predecessor_account_id).append(",").append(path);
  Tweak out{};
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), out.data(), &len, EVP_sha3_256(), nullptr) != 1 || len != out.size()) std::abort();
  return out;
}

// ---------------------------------------------------------------- Ed25519

std::array<std::uint8_t, 32> ed25519_tweak_scalar(const Tweak& tweak) {
  ensure_sodium();
  std::array<std::uint8_t, 32> out{};
  reduce32(tweak.data(), out.data());
  return out;
}

Result<Ed25519PublicKey> derive_ed25519_public_key(const Ed25519PublicKey& group, const Tweak& tweak) {
  ensure_sodium();
  if (crypto_core_ed25519_is_valid_point(group.bytes.data()) != 1) {
    return invalid("the group key is not a valid Ed25519 point of the prime-order subgroup");
  }
  const auto t = ed25519_tweak_scalar(tweak);
  if (sodium_is_zero(t.data(), t.size())) return group;  // 0·G is the identity
  std::array<std::uint8_t, 32> tweak_point{};
  if (crypto_scalarmult_ed25519_base_noclamp(tweak_point.data(), t.data()) != 0) {
    return invalid("the tweak does not give an Ed25519 point");
  }
  Ed25519PublicKey out;
  if (crypto_core_ed25519_add(out.bytes.data(), group.bytes.data(), tweak_point.data()) != 0 ||
      crypto_core_ed25519_is_valid_point(out.bytes.data()) != 1) {
    return invalid("the derived Ed25519 key is not a valid point");
  }
  return out;
}

Result<SecretBytes> derive_ed25519_secret_scalar(const SecretBytes& secret, const Tweak& tweak) {
  ensure_sodium();
  if (secret.size() != 32) return invalid("an Ed25519 key scalar must be 32 bytes");
  Scratch<32> s;
  reduce32(secret.data(), s.data());
  const auto t = ed25519_tweak_scalar(tweak);
  SecretBytes out(32);
  crypto_core_ed25519_scalar_add(out.data(), s.data(), t.data());
  return out;
}

Result<Ed25519PublicKey> ed25519_public_key_of_scalar(const SecretBytes& scalar) {
  ensure_sodium();
  if (scalar.size() != 32) return invalid("an Ed25519 key scalar must be 32 bytes");
  Scratch<32> a;
  reduce32(scalar.data(), a.data());
  Ed25519PublicKey out;
  if (crypto_scalarmult_ed25519_base_noclamp(out.bytes.data(), a.data()) != 0) return invalid("the Ed25519 key scalar is zero");
  return out;
}

Result<Ed25519Signature> ed25519_sign_with_scalar(const SecretBytes& scalar, ByteView message) {
  ensure_sodium();
  MPC_ASSIGN(const Ed25519PublicKey public_key, ed25519_public_key_of_scalar(scalar));
  Scratch<32> a;
  reduce32(scalar.data(), a.data());

  // Deterministic nonce: a hash of the key and the message, under a tag of
  // its own (RFC 8032 hashes the seed's second half, which a bare scalar
  // does not have).
  static constexpr std::string_view kNonceTag = "mpc ed25519 bare-scalar signing nonce";
  Scratch<crypto_hash_sha512_BYTES> nonce_hash;
  Scratch<32> r;
  {
    crypto_hash_sha512_state st;
    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, reinterpret_cast<const unsigned char*>(kNonceTag.data()), kNonceTag.size());
    crypto_hash_sha512_update(&st, a.data(), 32);
    crypto_hash_sha512_update(&st, message.data(), message.size());
    crypto_hash_sha512_final(&st, nonce_hash.data());
    sodium_memzero(&st, sizeof st);
  }
  crypto_core_ed25519_scalar_reduce(r.data(), nonce_hash.data());

  Ed25519Signature sig{};
  if (crypto_scalarmult_ed25519_base_noclamp(sig.data(), r.data()) != 0) {
    return fail(ErrorCode::kInternal, "the signing nonce reduced to zero");
  }
  // k = SHA-512(R || A || M) mod L; S = r + k·a mod L.
  std::array<std::uint8_t, crypto_hash_sha512_BYTES> k_hash{};
  {
    crypto_hash_sha512_state st;
    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, sig.data(), 32);
    crypto_hash_sha512_update(&st, public_key.bytes.data(), 32);
    crypto_hash_sha512_update(&st, message.data(), message.size());
    crypto_hash_sha512_final(&st, k_hash.data());
  }
  std::array<std::uint8_t, 32> k{};
  crypto_core_ed25519_scalar_reduce(k.data(), k_hash.data());
  Scratch<32> ka;
  crypto_core_ed25519_scalar_mul(ka.data(), k.data(), a.data());
  crypto_core_ed25519_scalar_add(sig.data() + 32, r.data(), ka.data());
  return sig;
}

// ---------------------------------------------------------------- requests and responses

namespace {

template <std::size_t N>
Result<std::array<std::uint8_t, N>> byte_array(const nlohmann::json& j, const std::string& path) {
  if (!j.is_array() || j.size() != N) return invalid(path + " must be an array of " + std::to_string(N) + " bytes");
  std::array<std::uint8_t, N> out{};
  for (std::size_t i = 0; i < N; ++i) {
    if (!j[i].is_number_unsigned() || j[i].get<std::uint64_t>() > 255) {
      return invalid(path + "[" + std::to_string(i) + "] must be an integer 0..255");
    }
    out[i] = static_cast<std::uint8_t>(j[i].get<std::uint64_t>());
  }
  return out;
}

template <std::size_t N>
nlohmann::json byte_array_json(const std::array<std::uint8_t, N>& bytes) {
  nlohmann::json a = nlohmann::json::array();
  for (auto b : bytes) a.push_back(b);
  return a;
}

template <std::size_t N>
Result<std::array<std::uint8_t, N>> hex_array(const nlohmann::json& j, const std::string& path) {
  if (!j.is_string()) return invalid(path + " must be a hex string");
  auto bytes = hex_decode(j.get<std::string>());
  if (!bytes) return invalid(path + " is not hex: " + bytes.error().message);
  if (bytes->size() != N) return invalid(path + " must be " + std::to_string(N) + " bytes, got " + std::to_string(bytes->size()));
  std::array<std::uint8_t, N> out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

const nlohmann::json* member(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  return it == j.end() ? nullptr : &*it;
}

}  // namespace

SignatureRequest SignatureRequest::make(std::string_view predecessor_account_id, std::string_view path, SignPayload payload,
                                        std::uint64_t domain_id) {
  return SignatureRequest{derive_tweak(predecessor_account_id, path), std::move(payload), domain_id};
}

nlohmann::json to_json(const SignPayload& payload) {
  return nlohmann::json{{payload.kind == SignPayload::Kind::kEcdsa ? "Ecdsa" : "Eddsa", hex_encode(payload.bytes)}};
}

nlohmann::json to_json(const SignatureRequest& request) {
  return nlohmann::json{{"tweak", byte_array_json(request.tweak)},
                        {"payload", to_json(request.payload)},
                        {"domain_id", request.domain_id}};
}

Result<SignPayload> parse_sign_payload(const nlohmann::json& j, const std::string& path) {
  if (!j.is_object() || j.size() != 1 || !(j.contains("Ecdsa") || j.contains("Eddsa"))) {
    return invalid(path + " must be {\"Ecdsa\":\"<hex>\"} or {\"Eddsa\":\"<hex>\"}");
  }
  SignPayload p;
  p.kind = j.contains("Ecdsa") ? SignPayload::Kind::kEcdsa : SignPayload::Kind::kEddsa;
  const char* variant = p.kind == SignPayload::Kind::kEcdsa ? "Ecdsa" : "Eddsa";
  const std::string where = path + "." + variant;
  const nlohmann::json& v = j.at(variant);
  if (!v.is_string()) return invalid(where + " must be a hex string");
  auto bytes = hex_decode(v.get<std::string>());
  if (!bytes) return invalid(where + " is not hex: " + bytes.error().message);
  if (p.kind == SignPayload::Kind::kEcdsa && bytes->size() != kEcdsaPayloadBytes) {
    return invalid(where + " must be 32 bytes, got " + std::to_string(bytes->size()));
  }
  if (p.kind == SignPayload::Kind::kEddsa && bytes->size() > kEddsaPayloadMaxBytes) {
    return invalid(where + " must be at most 1232 bytes, got " + std::to_string(bytes->size()));
  }
  p.bytes = std::move(*bytes);
  return p;
}

Result<SignatureRequest> parse_signature_request(const nlohmann::json& j, const std::string& path) {
  if (!j.is_object()) return invalid(path + " must be an object {tweak, payload, domain_id}");
  SignatureRequest r;
  const nlohmann::json* tweak = member(j, "tweak");
  if (tweak == nullptr) return invalid(path + ".tweak is missing");
  MPC_ASSIGN(r.tweak, byte_array<32>(*tweak, path + ".tweak"));
  const nlohmann::json* payload = member(j, "payload");
  if (payload == nullptr) return invalid(path + ".payload is missing");
  MPC_ASSIGN(r.payload, parse_sign_payload(*payload, path + ".payload"));
  const nlohmann::json* domain = member(j, "domain_id");
  if (domain == nullptr) return invalid(path + ".domain_id is missing");
  if (!domain->is_number_unsigned()) return invalid(path + ".domain_id must be an unsigned integer (u64)");
  r.domain_id = domain->get<std::uint64_t>();
  return r;
}

nlohmann::json to_json(const SignatureResponse& response) {
  if (const auto* ed = std::get_if<Ed25519Signature>(&response)) {
    return nlohmann::json{{"scheme", "Ed25519"}, {"signature", byte_array_json(*ed)}};
  }
  const auto& k = std::get<Secp256k1SignatureResponse>(response);
  return nlohmann::json{{"scheme", "Secp256k1"},
                        {"big_r", {{"affine_point", hex_encode(k.big_r)}}},
                        {"s", {{"scalar", hex_encode(k.s)}}},
                        {"recovery_id", k.recovery_id}};
}

Result<SignatureResponse> parse_signature_response(const nlohmann::json& j, const std::string& path) {
  if (!j.is_object()) return invalid(path + " must be an object tagged by \"scheme\"");
  const nlohmann::json* scheme = member(j, "scheme");
  if (scheme == nullptr || !scheme->is_string()) return invalid(path + ".scheme must be \"Ed25519\" or \"Secp256k1\"");
  const std::string name = scheme->get<std::string>();
  if (name == "Ed25519") {
    const nlohmann::json* sig = member(j, "signature");
    if (sig == nullptr) return invalid(path + ".signature is missing");
    MPC_ASSIGN(Ed25519Signature s, byte_array<64>(*sig, path + ".signature"));
    return SignatureResponse{s};
  }
  if (name == "Secp256k1") {
    Secp256k1SignatureResponse k;
    const nlohmann::json* big_r = member(j, "big_r");
    const nlohmann::json* point = big_r != nullptr && big_r->is_object() ? member(*big_r, "affine_point") : nullptr;
    if (point == nullptr) return invalid(path + ".big_r.affine_point is missing");
    MPC_ASSIGN(k.big_r, hex_array<33>(*point, path + ".big_r.affine_point"));
    const nlohmann::json* s = member(j, "s");
    const nlohmann::json* scalar = s != nullptr && s->is_object() ? member(*s, "scalar") : nullptr;
    if (scalar == nullptr) return invalid(path + ".s.scalar is missing");
    MPC_ASSIGN(k.s, hex_array<32>(*scalar, path + ".s.scalar"));
    const nlohmann::json* rid = member(j, "recovery_id");
    if (rid == nullptr || !rid->is_number_unsigned() || rid->get<std::uint64_t>() > 255) {
      return invalid(path + ".recovery_id must be an integer 0..255");
    }
    k.recovery_id = static_cast<std::uint8_t>(rid->get<std::uint64_t>());
    return SignatureResponse{k};
  }
  return invalid(path + ".scheme must be \"Ed25519\" or \"Secp256k1\", got \"" + name + "\"");
}

nlohmann::json respond_args(const SignatureRequest& request, const SignatureResponse& response) {
  return nlohmann::json{{"request", to_json(request)}, {"response", to_json(response)}};
}

// ---------------------------------------------------------------- Secp256k1

Result<Secp256k1PublicKey> secp256k1_decompress(ByteView compressed) {
  if (compressed.size() != 33 || (compressed[0] != 0x02 && compressed[0] != 0x03)) {
    return invalid("a compressed secp256k1 point is 33 bytes starting with 02 or 03");
  }
  EcGroupPtr curve(EC_GROUP_new_by_curve_name(NID_secp256k1));
  BnCtxPtr ctx(BN_CTX_new());
  if (!curve || !ctx) return fail(ErrorCode::kInternal, "OpenSSL cannot set up secp256k1");
  EcPointPtr point(EC_POINT_new(curve.get()));
  if (!point || EC_POINT_oct2point(curve.get(), point.get(), compressed.data(), compressed.size(), ctx.get()) != 1 ||
      EC_POINT_is_at_infinity(curve.get(), point.get()) == 1) {
    return invalid("not a point of secp256k1");
  }
  std::array<std::uint8_t, 65> encoded{};
  if (EC_POINT_point2oct(curve.get(), point.get(), POINT_CONVERSION_UNCOMPRESSED, encoded.data(), encoded.size(), ctx.get()) !=
      encoded.size()) {
    return fail(ErrorCode::kInternal, "OpenSSL failed to encode a secp256k1 point");
  }
  Secp256k1PublicKey out;
  std::copy(encoded.begin() + 1, encoded.end(), out.bytes.begin());
  return out;
}

Result<Secp256k1PublicKey> derive_secp256k1_public_key(const Secp256k1PublicKey& group, const Tweak& tweak) {
  EcGroupPtr curve(EC_GROUP_new_by_curve_name(NID_secp256k1));
  BnCtxPtr ctx(BN_CTX_new());
  if (!curve || !ctx) return fail(ErrorCode::kInternal, "OpenSSL cannot set up secp256k1");
  std::array<std::uint8_t, 65> encoded{};
  encoded[0] = 0x04;  // uncompressed SEC1: 04 || X || Y
  std::copy(group.bytes.begin(), group.bytes.end(), encoded.begin() + 1);
  EcPointPtr point(EC_POINT_new(curve.get()));
  if (!point || EC_POINT_oct2point(curve.get(), point.get(), encoded.data(), encoded.size(), ctx.get()) != 1) {
    return invalid("the group key is not a point of secp256k1");
  }
  BnPtr t(BN_bin2bn(tweak.data(), static_cast<int>(tweak.size()), nullptr));
  if (!t) return fail(ErrorCode::kInternal, "OpenSSL cannot hold the tweak");
  if (BN_cmp(t.get(), EC_GROUP_get0_order(curve.get())) >= 0) {
    return invalid("The provided tweak is not on the curve of the public key.");
  }
  // tweak·G + 1·group
  BnPtr one(BN_new());
  EcPointPtr derived(EC_POINT_new(curve.get()));
  if (!one || !derived || BN_one(one.get()) != 1 ||
      EC_POINT_mul(curve.get(), derived.get(), t.get(), point.get(), one.get(), ctx.get()) != 1) {
    return fail(ErrorCode::kInternal, "OpenSSL failed to derive the secp256k1 key");
  }
  if (EC_POINT_is_at_infinity(curve.get(), derived.get()) == 1) return invalid("the derived secp256k1 key is the point at infinity");
  if (EC_POINT_point2oct(curve.get(), derived.get(), POINT_CONVERSION_UNCOMPRESSED, encoded.data(), encoded.size(),
                         ctx.get()) != encoded.size()) {
    return fail(ErrorCode::kInternal, "OpenSSL failed to encode the derived secp256k1 key");
  }
  Secp256k1PublicKey out;
  std::copy(encoded.begin() + 1, encoded.end(), out.bytes.begin());
  return out;
}

}  // namespace mpc::core
