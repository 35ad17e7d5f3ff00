// RequestBody: a body equal to the expected one arrives without a copy of
// its own; any other is read whole, whatever the pieces it arrives in.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include "net/http_server.h"

namespace mpc::net {
namespace {

namespace http = boost::beast::http;

struct Parsed {
  boost::beast::error_code ec;
  HttpRequest request;
};

std::string get_request(const std::string& target, const std::string& body) {
  return "GET " + target + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Feeds `wire` to a parser in pieces whose sizes come from `cuts` (cycled).
Parsed parse(const std::string& wire, const BodyExpectation& expect, const std::vector<std::size_t>& cuts,
             std::size_t body_limit = 1 << 20) {
  http::request_parser<RequestBody> parser;
  parser.body_limit(body_limit);
  parser.get().body().expect = &expect;
  Parsed out;
  std::string pending;
  std::size_t at = 0, cut = 0;
  while (!parser.is_done() && (at < wire.size() || !pending.empty())) {
    const std::size_t n = std::min(cuts[cut++ % cuts.size()], wire.size() - at);
    pending.append(wire, at, n);
    at += n;
    const std::size_t used = parser.put(boost::asio::buffer(pending), out.ec);
    if (out.ec == http::error::need_more) {
      out.ec = {};
      if (at == wire.size() && used == 0) break;
    }
    if (out.ec) return out;
    pending.erase(0, used);
  }
  if (!parser.is_done() && !out.ec) out.ec = http::error::partial_message;
  if (!out.ec) out.request = parser.release();
  return out;
}

const std::string kTarget = "/get_keyshares";

BodyExpectation expecting(SharedBody body) {
  return [body](const RequestHeader& header) { return header.target() == kTarget ? body : nullptr; };
}

TEST(RequestBody, TheExpectedBodyComesSharedWhateverItsPieces) {
  auto expected = std::make_shared<const std::string>(std::string(5000, 'k') + "{\"epoch\":7}");
  const auto expect = expecting(expected);
  const std::string wire = get_request(kTarget, *expected);
  for (const std::size_t piece : {std::size_t{1}, std::size_t{7}, std::size_t{100}, std::size_t{4096}, wire.size()}) {
    auto p = parse(wire, expect, {piece});
    ASSERT_FALSE(p.ec) << p.ec.message() << " pieces of " << piece;
    EXPECT_TRUE(p.request.body().same_as == expected) << "not shared, pieces of " << piece;
    EXPECT_TRUE(static_cast<const std::string&>(p.request.body()).empty()) << "copied although expected, pieces of " << piece;
    EXPECT_TRUE(p.request.body().text() == *expected);
    EXPECT_EQ(RequestBody::size(p.request.body()), expected->size());
  }
}

TEST(RequestBody, ABodyThatDepartsAtAnyByteIsReadWhole) {
  const std::string base = "0123456789abcdefghijklmnopqrstuvwxyz";
  auto expected = std::make_shared<const std::string>(base);
  const auto expect = expecting(expected);
  for (std::size_t at = 0; at < base.size(); ++at) {
    std::string body = base;
    body[at] = '#';
    for (const std::size_t piece : {std::size_t{1}, std::size_t{5}, std::size_t{1000}}) {
      auto p = parse(get_request(kTarget, body), expect, {piece});
      ASSERT_FALSE(p.ec) << p.ec.message();
      EXPECT_FALSE(p.request.body().same_as) << "departs at " << at << ", pieces of " << piece;
      EXPECT_EQ(static_cast<const std::string&>(p.request.body()), body) << "departs at " << at << ", pieces of " << piece;
      EXPECT_EQ(p.request.body().text(), body);
    }
  }
}

TEST(RequestBody, RandomBodiesAndPiecesAgainstAnExpectedOne) {
  const unsigned seed = std::random_device{}();
  std::printf("RequestBody random pieces: seed %u\n", seed);
  std::mt19937 rng(seed);
  std::string base(3000, '\0');
  for (auto& c : base) c = static_cast<char>('a' + rng() % 26);
  auto expected = std::make_shared<const std::string>(base);
  const auto expect = expecting(expected);
  for (int round = 0; round < 300; ++round) {
    std::string body = base;
    switch (rng() % 4) {
      case 0: break;                                                   // the same
      case 1: body[rng() % body.size()] ^= 1; break;                   // one bit off
      case 2: body.resize(rng() % body.size()); break;                 // a prefix
      default: body += std::string(1 + rng() % 50, 'z'); break;       // longer
    }
    std::vector<std::size_t> cuts;
    for (int i = 0; i < 8; ++i) cuts.push_back(1 + rng() % 700);
    auto p = parse(get_request(kTarget, body), expect, cuts);
    ASSERT_FALSE(p.ec) << p.ec.message() << " seed " << seed << " round " << round;
    EXPECT_EQ(p.request.body().text(), body) << "seed " << seed << " round " << round;
    EXPECT_EQ(p.request.body().same_as != nullptr, body == base) << "seed " << seed << " round " << round;
  }
}

TEST(RequestBody, OnlyTheExpectedTargetAndAnnouncedLengthAreComparedAgainst) {
  auto expected = std::make_shared<const std::string>("{\"same\":true}");
  const auto expect = expecting(expected);
  auto other_target = parse(get_request("/elsewhere", *expected), expect, {3});
  ASSERT_FALSE(other_target.ec);
  EXPECT_FALSE(other_target.request.body().same_as);
  EXPECT_EQ(static_cast<const std::string&>(other_target.request.body()), *expected);

  // Chunked: no length announced, so the bytes are read into the string.
  const std::string chunked = "GET " + kTarget + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + "5\r\n{\"sam\r\n" +
                              "8\r\ne\":true}\r\n0\r\n\r\n";
  auto c = parse(chunked, expect, {4});
  ASSERT_FALSE(c.ec) << c.ec.message();
  EXPECT_FALSE(c.request.body().same_as);
  EXPECT_EQ(c.request.body().text(), *expected);

  // No expectation at all: as string_body.
  const BodyExpectation none;
  auto plain = parse(get_request(kTarget, *expected), none, {2});
  ASSERT_FALSE(plain.ec);
  EXPECT_FALSE(plain.request.body().same_as);
  EXPECT_EQ(static_cast<const std::string&>(plain.request.body()), *expected);
}

TEST(RequestBody, TheBodyLimitStillHolds) {
  auto expected = std::make_shared<const std::string>(std::string(2000, 'x'));
  const auto expect = expecting(expected);
  auto p = parse(get_request(kTarget, *expected), expect, {512}, 1000);
  EXPECT_EQ(p.ec, http::error::body_limit);
}

// A request written by a client carries its text, shared or not.
TEST(RequestBody, IsWrittenAsItsText) {
  HttpRequest shared(http::verb::get, kTarget, 11);
  shared.body().same_as = std::make_shared<const std::string>("shared bytes");
  shared.prepare_payload();
  std::ostringstream out;
  out << shared;
  EXPECT_NE(out.str().find("Content-Length: 12\r\n\r\nshared bytes"), std::string::npos) << out.str();
  HttpRequest own(http::verb::put, "/x", 11, RequestBody::value_type("own"));
  own.prepare_payload();
  std::ostringstream out2;
  out2 << own;
  EXPECT_NE(out2.str().find("\r\n\r\nown"), std::string::npos) << out2.str();
}

}  // namespace
}  // namespace mpc::net
