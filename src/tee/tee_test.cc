#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <filesystem>
#include <mutex>
#include <thread>

#include "attest/attestation.h"
#include "attest/report_data.h"
#include "core/near_key.h"
#include "net/http_server.h"
#include "net/io_thread.h"
#include "support/attest/fixtures.h"
#include "tee/attestation_source.h"
#include "tee/pccs.h"

namespace mpc::tee {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using json = nlohmann::json;
using attest::testing::read_fixture;

std::string url_encode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// What a PCCS serves for the recorded quote, rebuilt from the recorded collateral.
struct RecordedPccs {
  json c = json::parse(read_fixture("collateral.json"));
  std::vector<std::string> asked;

  HttpReply answer(const std::string& target) {
    asked.push_back(target);
    HttpReply r;
    r.status = 200;
    auto bytes = [&](const char* key) {
      auto b = core::hex_decode(c[key].get<std::string>());
      return std::string(b->begin(), b->end());
    };
    if (target.starts_with("/sgx/certification/v4/pckcrl?ca=")) {
      r.headers["sgx-pck-crl-issuer-chain"] = url_encode(c["pck_crl_issuer_chain"].get<std::string>());
      r.body = bytes("pck_crl");
    } else if (target.starts_with("/tdx/certification/v4/tcb?fmspc=")) {
      r.headers["tcb-info-issuer-chain"] = url_encode(c["tcb_info_issuer_chain"].get<std::string>());
      r.body = "{\"tcbInfo\":" + c["tcb_info"].get<std::string>() + ",\"signature\":\"" + c["tcb_info_signature"].get<std::string>() + "\"}";
    } else if (target == "/tdx/certification/v4/qe/identity") {
      r.headers["sgx-enclave-identity-issuer-chain"] = url_encode(c["qe_identity_issuer_chain"].get<std::string>());
      r.body = "{\"enclaveIdentity\":" + c["qe_identity"].get<std::string>() + ",\"signature\":\"" +
               c["qe_identity_signature"].get<std::string>() + "\"}";
    } else if (target == "/sgx/certification/v4/rootcacrl") {
      r.body = c["root_ca_crl"].get<std::string>();  // a PCCS serves it as hex
    } else {
      r.status = 404;
    }
    return r;
  }
};

core::Ed25519PublicKey fixture_key(const char* name) {
  std::string text = read_fixture(name);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return *core::parse_ed25519_public_key(text);
}
attest::ReportData recorded_report_data() {
  return attest::report_data_v1(fixture_key("near_p2p_public_key.pub"), fixture_key("near_account_public_key.pub"));
}

TEST(MockAttestation, IsTheReferencesMockValid) {
  MockAttestationSource source;
  auto a = source.attest(attest::ReportData{});
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->dump(), R"({"Mock":"Valid"})");
}

TEST(ProvisioningReportData, IsVersion2ThenSha3OfTheThreeKeysThenZeros) {
  X25519PublicKey x{};
  core::Ed25519PublicKey tls, signer;
  for (int i = 0; i < 32; ++i) x[i] = static_cast<std::uint8_t>(i), tls.bytes[i] = static_cast<std::uint8_t>(32 + i),
                               signer.bytes[i] = static_cast<std::uint8_t>(64 + i);
  const auto rd = provisioning_report_data(x, tls, signer);
  EXPECT_EQ(rd[0], 0);
  EXPECT_EQ(rd[1], 2);
  // SHA3-384(0x00..0x5f) (Python: hashlib.sha3_384(bytes(range(96))).hexdigest()).
  EXPECT_EQ(core::hex_encode(core::ByteView(rd.data() + 2, 48)),
            "d6e266970a3fdcd4a833da861599179a060b576959e993b4698529304ee38c23c7102a7084c4d568b1d95523d14077e7");
  for (std::size_t i = 50; i < 64; ++i) EXPECT_EQ(rd[i], 0) << i;
  auto other = x;
  other[31] ^= 1;
  EXPECT_NE(provisioning_report_data(other, tls, signer), rd);
  EXPECT_NE(provisioning_report_data(x, signer, tls), rd);  // order matters
}

TEST(Pccs, AssemblesTheRecordedCollateralWhichVerifiesTheRecordedQuote) {
  RecordedPccs pccs;
  auto c = fetch_collateral("https://pccs.example/sgx/certification/v4/", attest::testing::quote_bytes(),
                            [&](const std::string& url) -> core::Result<HttpReply> {
                              EXPECT_TRUE(url.starts_with("https://pccs.example/")) << url;
                              return pccs.answer(url.substr(std::string("https://pccs.example").size()));
                            });
  ASSERT_TRUE(c.has_value()) << c.error().message;
  ASSERT_EQ(pccs.asked.size(), 4u);
  EXPECT_EQ(pccs.asked[0], "/sgx/certification/v4/pckcrl?ca=platform&encoding=der");  // the recorded PCK is a Platform CA's
  const std::string fmspc = json::parse(pccs.c["tcb_info"].get<std::string>())["fmspc"].get<std::string>();
  std::string fmspc_lower = fmspc;
  for (auto& ch : fmspc_lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  EXPECT_EQ(pccs.asked[1], "/tdx/certification/v4/tcb?fmspc=" + fmspc_lower);
  auto collateral = attest::parse_collateral(c->dump());
  ASSERT_TRUE(collateral.has_value()) << collateral.error().message;
  auto verified = attest::verify_quote(attest::testing::quote_bytes(), *collateral, attest::testing::kReferenceTimestamp);
  EXPECT_TRUE(verified.has_value()) << verified.error().message;
  EXPECT_EQ(collateral->tcb_info, pccs.c["tcb_info"].get<std::string>());  // byte for byte
}

TEST(Pccs, RefusesAnAnswerWithoutTheIssuerChainHeader) {
  RecordedPccs pccs;
  auto c = fetch_collateral("http://pccs.example", attest::testing::quote_bytes(), [&](const std::string& url) -> core::Result<HttpReply> {
    auto r = pccs.answer(url.substr(std::string("http://pccs.example").size()));
    r.headers.erase("tcb-info-issuer-chain");
    return r;
  });
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().message.find("tcb-info-issuer-chain header"), std::string::npos) << c.error().message;
}

TEST(Pccs, RefusesAnHttpError) {
  auto c = fetch_collateral("http://pccs.example", attest::testing::quote_bytes(), [](const std::string&) -> core::Result<HttpReply> {
    HttpReply r;
    r.status = 503;
    return r;
  });
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().message.find("HTTP 503"), std::string::npos) << c.error().message;
}

TEST(RawMember, TakesTheTextAsWrittenAndIgnoresNestedOrQuotedNames) {
  const std::string body = R"({"x": {"tcbInfo": 1}, "s": "\"tcbInfo\": 2", "tcbInfo" : {"a":[1, 2],"b":"}"} , "z": 0})";
  auto raw = raw_member(body, "tcbInfo");
  ASSERT_TRUE(raw.has_value()) << raw.error().message;
  EXPECT_EQ(*raw, R"({"a":[1, 2],"b":"}"})");
  EXPECT_FALSE(raw_member(R"({"x": {"tcbInfo": 1}})", "tcbInfo").has_value());
  EXPECT_FALSE(raw_member("not json", "tcbInfo").has_value());
}

// A dstack guest agent on a unix socket in a temporary directory, answering
// /Info and /GetQuote with the recorded node's data.
class FakeDstackAgent {
 public:
  explicit FakeDstackAgent(std::filesystem::path path) : path_(std::move(path)), acceptor_(ioc_) {
    std::filesystem::remove(path_);
    asio::local::stream_protocol::endpoint ep(path_.string());
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeDstackAgent() {
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    thread_.join();
    std::filesystem::remove(path_);
  }
  std::string quote_hex = core::hex_encode(attest::testing::quote_bytes());
  std::vector<std::pair<std::string, std::string>> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void serve() {
    for (;;) {
      asio::local::stream_protocol::socket socket(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec) return;
      beast::flat_buffer buffer;
      http::request<http::string_body> req;
      http::read(socket, buffer, req, ec);
      if (ec) continue;
      {
        std::lock_guard lock(mu_);
        requests_.emplace_back(std::string(req.target()), req.body());
      }
      http::response<http::string_body> res{http::status::ok, 11};
      if (req.method() != http::verb::post) res.result(http::status::method_not_allowed);
      else if (req.target() == "/Info") res.body() = json{{"app_id", "x"}, {"tcb_info", read_fixture("tcb_info.json")}}.dump();
      else if (req.target() == "/GetQuote") res.body() = json{{"quote", quote_hex}, {"event_log", "[]"}}.dump();
      else res.result(http::status::not_found);
      res.prepare_payload();
      http::write(socket, res, ec);
    }
  }
  std::filesystem::path path_;
  asio::io_context ioc_;
  asio::local::stream_protocol::acceptor acceptor_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> requests_;
};

// A PCCS on loopback (plain HTTP) serving the recorded collateral.
struct FakePccsServer {
  asio::io_context ioc;
  RecordedPccs pccs;
  std::mutex mu;
  std::shared_ptr<net::HttpServer> server;
  std::thread thread;
  std::string url;
  FakePccsServer() {
    server = std::make_shared<net::HttpServer>(ioc, net::HttpServerOptions{}, [this](net::HttpRequest&& req, net::Responder respond) {
      HttpReply r;
      {
        std::lock_guard lock(mu);
        r = pccs.answer(std::string(req.target()));
      }
      auto res = net::make_response(r.status, r.body, "application/octet-stream");
      for (const auto& [k, v] : r.headers) res.set(k, v);
      respond(std::move(res));
    });
    auto ep = server->listen(*net::parse_listen_address("127.0.0.1:0"));
    url = "http://127.0.0.1:" + std::to_string(ep->port());
    thread = std::thread([this] { ioc.run(); });
  }
  ~FakePccsServer() {
    server->stop();
    ioc.stop();
    thread.join();
  }
};

std::filesystem::path temp_socket(const char* name) {
  return std::filesystem::temp_directory_path() / ("tee_test_" + std::to_string(::getpid()) + "_" + name + ".sock");
}

TEST(DstackAttestationSource, BuildsTheReferencesDstackAttestationThatVerifies) {
  FakeDstackAgent agent(temp_socket("ok"));
  FakePccsServer pccs;
  DstackAttestationSource source({temp_socket("ok"), pccs.url, std::chrono::seconds(10)});
  const auto rd = recorded_report_data();
  auto a = source.attest(rd);
  ASSERT_TRUE(a.has_value()) << a.error().message;
  ASSERT_TRUE(a->contains("Dstack"));
  const json& d = (*a)["Dstack"];
  EXPECT_TRUE(d["quote"].is_array());
  EXPECT_EQ(d["quote"].size(), attest::testing::quote_bytes().size());
  EXPECT_EQ(d["tcb_info"], json::parse(read_fixture("tcb_info.json")));
  const auto requests = agent.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].first, "/Info");
  EXPECT_EQ(requests[1].first, "/GetQuote");
  EXPECT_EQ(json::parse(requests[1].second)["report_data"], core::hex_encode(rd));

  AttestationPolicy policy{false, &attest::testing::allowed_set(), attest::testing::kReferenceTimestamp};
  auto ok = check_attestation(*a, rd, policy);
  EXPECT_TRUE(ok.has_value()) << ok.error().message;
  auto other = rd;
  other[10] ^= 1;
  auto bad = check_attestation(*a, other, policy);
  ASSERT_FALSE(bad.has_value());
  EXPECT_TRUE(attest::failed_check(bad.error(), attest::Check::kReportData)) << bad.error().message;
  policy.now += 60LL * 24 * 3600;  // past the collateral's validity
  EXPECT_FALSE(check_attestation(*a, rd, policy).has_value());
}

TEST(DstackAttestationSource, RefusesAQuoteOfOtherReportData) {
  FakeDstackAgent agent(temp_socket("other"));
  FakePccsServer pccs;
  DstackAttestationSource source({temp_socket("other"), pccs.url, std::chrono::seconds(10)});
  auto rd = recorded_report_data();
  rd[5] ^= 1;
  auto a = source.attest(rd);
  ASSERT_FALSE(a.has_value());
  EXPECT_NE(a.error().message.find("other report data"), std::string::npos) << a.error().message;
}

TEST(DstackAttestationSource, NamesTheSocketWhenNoAgentListens) {
  DstackAttestationSource source({temp_socket("none"), "http://127.0.0.1:1", std::chrono::seconds(2)});
  auto a = source.attest(attest::ReportData{});
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(a.error().code, core::ErrorCode::kUnavailable);
  EXPECT_NE(a.error().message.find(temp_socket("none").string()), std::string::npos) << a.error().message;
}

TEST(CheckAttestation, MockOnlyWhenAllowed) {
  AttestationPolicy policy;
  EXPECT_FALSE(check_attestation(mock_valid_attestation(), attest::ReportData{}, policy).has_value());
  policy.allow_mock = true;
  EXPECT_TRUE(check_attestation(mock_valid_attestation(), attest::ReportData{}, policy).has_value());
  EXPECT_FALSE(check_attestation(json{{"Mock", "Invalid"}}, attest::ReportData{}, policy).has_value());
  EXPECT_FALSE(check_attestation(json{{"Dstack", {{"quote", json::array()}}}}, attest::ReportData{}, policy).has_value());
  EXPECT_FALSE(check_attestation(json::array(), attest::ReportData{}, policy).has_value());
}

}  // namespace
}  // namespace mpc::tee
