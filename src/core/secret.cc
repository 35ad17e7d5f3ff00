#include "core/secret.h"

#include <openssl/crypto.h>

namespace mpc::core {

void secure_wipe(void* data, std::size_t size) {
  if (data != nullptr && size > 0) OPENSSL_cleanse(data, size);
}

SecretBytes SecretBytes::take(std::vector<std::uint8_t>& bytes) {
  SecretBytes s{std::span<const std::uint8_t>(bytes)};
  secure_wipe(bytes.data(), bytes.size());
  bytes.clear();
  return s;
}

SecretBytes SecretBytes::take(std::string& text) {
  SecretBytes s(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  secure_wipe(text.data(), text.size());
  text.clear();
  return s;
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept : data_(std::move(other.data_)) { other.data_.clear(); }

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    wipe();
    data_ = std::move(other.data_);
    other.data_.clear();
  }
  return *this;
}

bool SecretBytes::operator==(const SecretBytes& other) const {
  return data_.size() == other.data_.size() &&
         (data_.empty() || CRYPTO_memcmp(data_.data(), other.data_.data(), data_.size()) == 0);
}

void SecretBytes::wipe() {
  // The full capacity: a vector that shrank keeps old bytes behind size()
  // (made part of the vector first, so the wipe touches only its elements).
  data_.resize(data_.capacity());
  secure_wipe(data_.data(), data_.size());
  data_.clear();
}

void SecretString::wipe(std::string& s) {
  // The whole buffer, capacity included: a string that shrank keeps old
  // characters behind size(), and a short (SSO) string moved from keeps its
  // characters in place.
  secure_wipe(s.data(), s.capacity());
  s.clear();
}

}  // namespace mpc::core
