// core::parse_json with limits, against nlohmann's own parser as the
// reference. The first two bytes choose the limits (depth 1..32, values
// 1..256 or unlimited), the rest is the text.
//
// Properties (for every input): parse_json accepts exactly the texts that
// nlohmann accepts, hold no NUL byte (nlohmann ends the input there) and whose size, nesting depth and value count (values
// and object keys, as the text has them, duplicates included) are within
// the limits; check_json_limits never refuses such a text.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "core/json_limits.h"
#include "fuzz_support.h"

using namespace mpc;

namespace {

// Counts what the text holds, with the exact depth, as the parser sees it.
struct Measure : nlohmann::json_sax<nlohmann::json> {
  std::size_t values = 0;
  std::size_t depth = 0;
  std::size_t max_depth = 0;
  bool value() { return ++values, true; }
  bool open() {
    ++values;
    max_depth = std::max(max_depth, ++depth);
    return true;
  }
  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override { return open(); }
  bool key(string_t&) override { return value(); }
  bool end_object() override { return --depth, true; }
  bool start_array(std::size_t) override { return open(); }
  bool end_array() override { return --depth, true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  core::JsonLimits limits;
  limits.max_bytes = 4096;
  limits.max_depth = 1 + data[0] % 32;
  limits.max_values = data[1] == 0xff ? std::numeric_limits<std::size_t>::max() : 1 + data[1];
  const std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);

  Measure m;
  // nlohmann stops at a NUL byte as if the text ended there; JSON never
  // holds one, so the reference counts a text with a NUL as invalid.
  const bool valid = nlohmann::json::sax_parse(text.begin(), text.end(), &m) && text.find('\0') == std::string_view::npos;
  const bool within = text.size() <= limits.max_bytes && m.max_depth <= limits.max_depth && m.values <= limits.max_values;
  auto parsed = core::parse_json(text, limits);
  MPC_FUZZ_CHECK(parsed.has_value() == (valid && within));
  if (valid && within) MPC_FUZZ_CHECK(core::check_json_limits(text, limits).has_value());
  if (!parsed) MPC_FUZZ_CHECK(!parsed.error().message.empty());
  return 0;
}
