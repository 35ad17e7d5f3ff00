#include "backup/tee.h"

#include <gtest/gtest.h>

#include <thread>

#include "attest/report_data.h"
#include "core/near_key.h"
#include "net/http_server.h"
#include "support/manual_clock.h"

namespace mpc::backup {
namespace {

using json = nlohmann::json;

struct FakeChain {
  bool key_added = false;
  int attestations = 0;
  std::vector<json> registrations;
  TeeRegistrationPorts ports() {
    return {[this]() -> core::Result<bool> { return key_added; },
            [this](const attest::ReportData& rd) -> core::Result<json> {
              ++attestations;
              return json{{"Mock", "Valid"}, {"rd", core::hex_encode(rd)}};
            },
            [this](const json& args) -> core::Status {
              registrations.push_back(args);
              return {};
            }};
  }
};

TEST(TeeRegistrar, WaitsForTheAccessKeyThenRegistersBoundToTlsAndSignerKeys) {
  const auto id = TeeIdentity::generate();
  FakeChain chain;
  mpc::testing::ManualClock clock;
  TeeRegistrar registrar(id, chain.ports(), std::chrono::hours(144), clock);
  EXPECT_EQ(registrar.step(), RegistrationOutcome::kWaitingForAccessKey);
  EXPECT_EQ(chain.attestations, 0);
  chain.key_added = true;
  EXPECT_EQ(registrar.step(), RegistrationOutcome::kRegistered);
  ASSERT_EQ(chain.registrations.size(), 1u);
  const json& info = chain.registrations[0]["backup_service_info"];
  EXPECT_EQ(info["public_key"], core::ed25519_public_key_to_string(id.tls_key.public_key()));
  EXPECT_EQ(info["attestation"]["rd"], core::hex_encode(attest::report_data_v1(id.tls_key.public_key(), id.signer_key.public_key())));
}

TEST(TeeRegistrar, RegistersAgainOnlyOnceTheReattestIntervalHasPassed) {
  const auto id = TeeIdentity::generate();
  FakeChain chain;
  chain.key_added = true;
  mpc::testing::ManualClock clock;
  TeeRegistrar registrar(id, chain.ports(), std::chrono::hours(144), clock);
  EXPECT_EQ(registrar.step(), RegistrationOutcome::kRegistered);
  clock.advance(std::chrono::hours(143));
  EXPECT_EQ(registrar.step(), RegistrationOutcome::kUpToDate);
  EXPECT_EQ(chain.registrations.size(), 1u);
  clock.advance(std::chrono::hours(1));
  EXPECT_EQ(registrar.step(), RegistrationOutcome::kRegistered);
  EXPECT_EQ(chain.registrations.size(), 2u);
}

TEST(TeeRegistrar, AFailedRegistrationIsRetriedAtTheNextStep) {
  const auto id = TeeIdentity::generate();
  FakeChain chain;
  chain.key_added = true;
  auto ports = chain.ports();
  int calls = 0;
  ports.register_service = [&](const json&) -> core::Status {
    if (++calls == 1) return core::fail(core::ErrorCode::kUnavailable, "rpc down");
    return {};
  };
  mpc::testing::ManualClock clock;
  TeeRegistrar registrar(id, ports, std::chrono::hours(144), clock);
  EXPECT_EQ(registrar.step(), RegistrationOutcome::kFailed);
  EXPECT_NE(registrar.last_error().find("rpc down"), std::string::npos);
  EXPECT_EQ(registrar.step(), RegistrationOutcome::kRegistered);
}

core::SecretBytes test_key(std::uint8_t fill) {
  core::SecretBytes k(32);
  std::fill(k.data(), k.data() + 32, fill);
  return k;
}

TEST(KeyProvisioning, FirstSealedKeyWinsLaterOnesAreRefused) {
  const auto id = TeeIdentity::generate();
  KeyProvisioning p(id, json{{"Mock", "Valid"}});
  EXPECT_FALSE(p.provisioned());
  auto sealed = seal_aes_key(test_key(7), id.x25519_public);
  EXPECT_EQ(p.accept(std::string(sealed.begin(), sealed.end())).first, 204u);
  auto key = p.wait_for_key(std::chrono::milliseconds(0));
  ASSERT_TRUE(key.has_value());
  EXPECT_TRUE(*key == test_key(7));
  auto second = seal_aes_key(test_key(8), id.x25519_public);
  EXPECT_EQ(p.accept(std::string(second.begin(), second.end())).first, 409u);
  EXPECT_TRUE(*p.wait_for_key(std::chrono::milliseconds(0)) == test_key(7));
}

TEST(KeyProvisioning, RefusesWrongSizeAndKeysSealedToAnotherService) {
  const auto id = TeeIdentity::generate();
  const auto other = TeeIdentity::generate();
  KeyProvisioning p(id, json{{"Mock", "Valid"}});
  EXPECT_EQ(p.accept(std::string(32, 'a')).first, 400u);  // a plaintext key is never accepted
  auto sealed = seal_aes_key(test_key(7), other.x25519_public);
  EXPECT_EQ(p.accept(std::string(sealed.begin(), sealed.end())).first, 400u);
  sealed = seal_aes_key(test_key(7), id.x25519_public);
  sealed[40] ^= 1;
  EXPECT_EQ(p.accept(std::string(sealed.begin(), sealed.end())).first, 400u);
  EXPECT_FALSE(p.provisioned());
}

struct ProvisioningServer {
  boost::asio::io_context ioc;
  std::shared_ptr<net::HttpServer> server;
  std::thread thread;
  std::string url;
  ProvisioningServer(KeyProvisioning& p, json public_data) {
    net::HttpServerOptions o;
    o.body_limit = 4096;
    server = std::make_shared<net::HttpServer>(ioc, o, provisioning_handler(p, std::move(public_data)));
    auto ep = server->listen(*net::parse_listen_address("127.0.0.1:0"));
    url = "http://127.0.0.1:" + std::to_string(ep->port());
    thread = std::thread([this] { ioc.run(); });
  }
  ~ProvisioningServer() {
    server->stop();
    ioc.stop();
    thread.join();
  }
};

TEST(ProvisionKey, SealsTheKeyToAnAttestedServiceOverLoopback) {
  const auto id = TeeIdentity::generate();
  KeyProvisioning p(id, json{{"Mock", "Valid"}});
  ProvisioningServer server(p, id.public_data());
  ProvisionRequest request;
  request.service_url = server.url;
  request.expected_tls_key = id.tls_key.public_key();
  // Mock attestations are refused unless allowed: nothing is sent.
  auto refused = provision_key(request, test_key(5));
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("mock"), std::string::npos) << refused.error().message;
  EXPECT_FALSE(p.provisioned());
  request.policy.allow_mock = true;
  auto ok = provision_key(request, test_key(5));
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_TRUE(*p.wait_for_key(std::chrono::milliseconds(0)) == test_key(5));
  auto again = provision_key(request, test_key(6));
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, core::ErrorCode::kAlreadyExists);
}

TEST(ProvisionKey, RefusesAServiceWithAnotherTlsKey) {
  const auto id = TeeIdentity::generate();
  KeyProvisioning p(id, json{{"Mock", "Valid"}});
  ProvisioningServer server(p, id.public_data());
  ProvisionRequest request;
  request.service_url = server.url;
  request.policy.allow_mock = true;
  request.expected_tls_key = TeeIdentity::generate().tls_key.public_key();
  auto r = provision_key(request, test_key(5));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, core::ErrorCode::kPermissionDenied);
  EXPECT_FALSE(p.provisioned());
}

}  // namespace
}  // namespace mpc::backup
