// Secret material: wiped on destruction and on move-from, never printable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace mpc::core {

// Overwrites memory in a way the optimiser cannot elide.
void secure_wipe(void* data, std::size_t size);

// An owned buffer of secret bytes. Not copyable by accident: copies are
// explicit via clone(). Has no operator<< and no implicit string conversion.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t size) : data_(size) {}
  explicit SecretBytes(std::span<const std::uint8_t> bytes) : data_(bytes.begin(), bytes.end()) {}
  // Takes ownership of `bytes` and wipes the source.
  static SecretBytes take(std::vector<std::uint8_t>& bytes);
  static SecretBytes take(std::string& text);
  ~SecretBytes() { wipe(); }

  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;

  SecretBytes clone() const { return SecretBytes(std::span<const std::uint8_t>(data_)); }

  std::uint8_t* data() { return data_.data(); }
  const std::uint8_t* data() const { return data_.data(); }
  std::size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  std::span<const std::uint8_t> view() const { return data_; }
  std::span<std::uint8_t> mutable_view() { return data_; }

  bool operator==(const SecretBytes& other) const;

 private:
  void wipe();
  std::vector<std::uint8_t> data_;
};

// A std::string holding secret text (a JSON plaintext, a key in text form)
// that is wiped on destruction.
class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string value) : value_(std::move(value)) {}
  ~SecretString() { wipe(value_); }
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;
  SecretString(SecretString&& o) noexcept : value_(std::move(o.value_)) { wipe(o.value_); }
  SecretString& operator=(SecretString&& o) noexcept {
    if (this != &o) {
      wipe(value_);
      value_ = std::move(o.value_);
      wipe(o.value_);
    }
    return *this;
  }
  // Wipes a string's whole buffer (capacity included) and empties it.
  static void wipe(std::string& s);
  const std::string& reveal() const { return value_; }
  std::string& mutable_value() { return value_; }

 private:
  std::string value_;
};

}  // namespace mpc::core
