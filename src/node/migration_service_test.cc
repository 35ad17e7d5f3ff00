#include "node/migration_service.h"
#include "net/refusal.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/crypto.h"
#include "devnet/dealer.h"

namespace mpc::node {
namespace {

namespace fs = std::filesystem;
namespace http = boost::beast::http;
using json = nlohmann::json;

core::Ed25519PublicKey key(std::uint8_t tag) {
  core::Ed25519PublicKey k;
  k.bytes.fill(tag);
  return k;
}

class MigrationServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mpc-msvc-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    core::SecretBytes local(32);
    core::random_fill(local.mutable_view());
    store_ = std::move(*KeyshareStore::open(dir_ / "keyshares.enc", std::move(local)));
    aes_ = core::SecretBytes(32);
    core::random_fill(aes_.mutable_view());
    const std::vector<devnet::DomainToDeal> domains = {{0, model::CurveKind::kSecp256k1, 0}, {1, model::CurveKind::kEd25519, 0}};
    const std::vector<std::uint64_t> ids = {0, 1};
    auto dealt = devnet::deal_keyset(domains, ids, 2, 4);
    keyset_ = dealt->keyset;
    shares_ = std::move(dealt->shares[0]);
    service_ = std::make_unique<MigrationService>(*store_, aes_.clone(), metrics_, [this] { ++imported_; });
  }
  void TearDown() override { fs::remove_all(dir_); }

  NodeView view(bool destination, bool running = true) {
    NodeView v;
    v.protocol = running ? "Running" : "Resharing";
    v.running = running;
    if (running) v.running_keyset = keyset_;
    v.backup_service_key = key(5);
    if (destination) {
      v.account_migration = model::DestinationNodeInfo{key(7), {"https://n:1", key(9)}};
      v.is_migration_destination = true;
    }
    return v;
  }
  net::HttpRequest request(http::verb verb, std::string target, std::string body = {}) {
    net::HttpRequest r{verb, target, 11};
    r.body() = std::move(body);
    r.prepare_payload();
    return r;
  }
  std::string sealed(const std::vector<model::Keyshare>& shares, const core::SecretBytes& k) {
    json a = json::array();
    for (const auto& s : shares) a.push_back(to_json(s));
    return core::base64_encode(*core::aes_gcm_encrypt(k, core::as_bytes(a.dump())));
  }
  std::vector<model::Keyshare> clones() {
    std::vector<model::Keyshare> v;
    for (const auto& s : shares_) v.push_back(s.clone());
    return v;
  }

  fs::path dir_;
  std::unique_ptr<KeyshareStore> store_;
  core::SecretBytes aes_;
  model::Keyset keyset_;
  std::vector<model::Keyshare> shares_;
  net::MetricsRegistry metrics_;
  std::unique_ptr<MigrationService> service_;
  int imported_ = 0;
};

TEST_F(MigrationServiceTest, AuthorizesOnlyTheRegisteredBackupKey) {
  EXPECT_EQ(service_->authorize(key(5)), "chain_state_unknown");
  NodeView none = view(false);
  none.backup_service_key.reset();
  service_->update_view(none);
  EXPECT_EQ(service_->authorize(key(5)), "no_backup_service_registered");
  service_->update_view(view(false));
  EXPECT_EQ(service_->authorize(key(6)), "unauthorized_key");
  EXPECT_EQ(service_->authorize(key(5)), std::nullopt);
}

TEST_F(MigrationServiceTest, RoutesOnThePathOnly) {
  service_->update_view(view(false));
  auto r = service_->handle(request(http::verb::get, "http://example/hello"), key(5));
  EXPECT_EQ(r.result_int(), 200u);
  EXPECT_EQ(r.body(), "Hello, world!");
  EXPECT_EQ(service_->handle(request(http::verb::get, "/nope"), key(5)).result_int(), 404u);
  EXPECT_EQ(service_->handle(request(http::verb::post, "/get_keyshares"), key(5)).result_int(), 405u);
}

TEST_F(MigrationServiceTest, ServesTheHeldKeysetEncrypted) {
  service_->update_view(view(false));
  auto bad = service_->handle(request(http::verb::get, "/get_keyshares", "{"), key(5));
  EXPECT_EQ(bad.result_int(), 400u);
  EXPECT_EQ(bad.body().rfind("Invalid keyset:", 0), 0u) << bad.body();
  auto missing = service_->handle(request(http::verb::get, "/get_keyshares", to_json(keyset_).dump()), key(5));
  EXPECT_EQ(missing.result_int(), 500u);
  ASSERT_TRUE(store_->import(clones(), keyset_));
  auto ok = service_->handle(request(http::verb::get, "http://x/get_keyshares", to_json(keyset_).dump()), key(5));
  ASSERT_EQ(ok.result_int(), 200u) << ok.body();
  auto blob = core::base64_decode(ok.body());
  ASSERT_TRUE(blob);
  auto plain = core::aes_gcm_decrypt(aes_, *blob);
  ASSERT_TRUE(plain);
  auto shares = model::parse_keyshares(json::parse(core::to_string(plain->view())));
  ASSERT_TRUE(shares);
  EXPECT_TRUE(model::check_keyshares_cover_keyset(*shares, keyset_));
  EXPECT_NE(metrics_.render().find("mpc_last_backup_served_epoch 4"), std::string::npos) << metrics_.render();
}

TEST_F(MigrationServiceTest, AcceptsSharesOnlyAsTheDestinationAndOnlyValidOnes) {
  service_->update_view(view(false));
  auto refused = service_->handle(request(http::verb::put, "/set_keyshares", sealed(shares_, aes_)), key(5));
  EXPECT_EQ(refused.result_int(), 409u);
  EXPECT_NE(refused.body().find("not the destination"), std::string::npos) << refused.body();
  EXPECT_EQ(refused[net::kRefusalHeader], net::kRefusalNotDestination);
  service_->update_view(view(true, false));
  auto not_running = service_->handle(request(http::verb::put, "/set_keyshares", sealed(shares_, aes_)), key(5));
  EXPECT_EQ(not_running.result_int(), 409u);
  EXPECT_EQ(not_running[net::kRefusalHeader], net::kRefusalNotDestination);

  service_->update_view(view(true));
  auto not_b64 = service_->handle(request(http::verb::put, "/set_keyshares", "%%%"), key(5));
  EXPECT_EQ(not_b64.result_int(), 400u);
  EXPECT_EQ(not_b64.body().rfind("Invalid Json or encryption:", 0), 0u) << not_b64.body();
  core::SecretBytes other(32);
  core::random_fill(other.mutable_view());
  auto wrong_key = service_->handle(request(http::verb::put, "/set_keyshares", sealed(shares_, other)), key(5));
  EXPECT_EQ(wrong_key.result_int(), 400u);
  EXPECT_NE(wrong_key.body().find("does not decrypt"), std::string::npos);
  EXPECT_EQ(wrong_key[net::kRefusalHeader], net::kRefusalDecryptFailed);
  EXPECT_EQ(not_b64.count(net::kRefusalHeader), 0u);  // only the refusals a client acts on are tagged
  auto stale = clones();
  for (auto& s : stale) s.key_id.epoch_id = 3;
  auto wrong_epoch = service_->handle(request(http::verb::put, "/set_keyshares", sealed(stale, aes_)), key(5));
  EXPECT_EQ(wrong_epoch.result_int(), 400u);
  EXPECT_NE(wrong_epoch.body().find("do not match the keyset"), std::string::npos) << wrong_epoch.body();
  EXPECT_FALSE(fs::exists(dir_ / "keyshares.enc"));
  EXPECT_EQ(imported_, 0);

  auto ok = service_->handle(request(http::verb::put, "/set_keyshares", sealed(shares_, aes_)), key(5));
  EXPECT_EQ(ok.result_int(), 200u) << ok.body();
  EXPECT_EQ(ok.body(), "Keyshares received.");
  EXPECT_TRUE(store_->holds(keyset_));
  EXPECT_EQ(imported_, 1);
  EXPECT_NE(metrics_.render().find("mpc_keyshare_imports_total{outcome=\"imported\"} 1"), std::string::npos);
  EXPECT_EQ(ok.count(net::kRefusalHeader), 0u);
}

TEST_F(MigrationServiceTest, PuttingTheSameSharesAgainIsANoOpAnswered200) {
  // backup-cli repeats a PUT whose answer it did not receive: that must be safe.
  service_->update_view(view(true));
  ASSERT_EQ(service_->handle(request(http::verb::put, "/set_keyshares", sealed(shares_, aes_)), key(5)).result_int(), 200u);
  const auto digest = store_->summary().digest;
  auto again = service_->handle(request(http::verb::put, "/set_keyshares", sealed(shares_, aes_)), key(5));
  EXPECT_EQ(again.result_int(), 200u) << again.body();
  EXPECT_TRUE(store_->holds(keyset_));
  EXPECT_EQ(store_->summary().digest, digest);
  EXPECT_EQ(imported_, 2);
}

TEST_F(MigrationServiceTest, BodiesNestedTooDeepAreRefusedBeforeParsing) {
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  service_->update_view(view(false));
  auto get = service_->handle(request(http::verb::get, "/get_keyshares", deep), key(5));
  EXPECT_EQ(get.result_int(), 400u);
  EXPECT_EQ(get.body(), "Invalid keyset: JSON nested deeper than 64 levels");

  service_->update_view(view(true));
  auto put = service_->handle(
      request(http::verb::put, "/set_keyshares", core::base64_encode(*core::aes_gcm_encrypt(aes_, core::as_bytes(deep)))), key(5));
  EXPECT_EQ(put.result_int(), 400u);
  EXPECT_EQ(put.body(), "Invalid Json or encryption: the decrypted blob: JSON nested deeper than 64 levels");
  EXPECT_EQ(imported_, 0);
  EXPECT_NE(metrics_.render().find("mpc_keyshare_imports_total{outcome=\"bad_json\"} 1"), std::string::npos);
}


// --require-attested-backup-service: the registered key alone is not enough.
TEST_F(MigrationServiceTest, ARequiredAttestationMustBeThereForThePeersKeyAndUnexpired) {
  ASSERT_TRUE(store_->import(clones(), keyset_));
  std::int64_t now = 1'000;
  service_->require_attested_backup_service([&] { return now; });
  NodeView v = view(false);
  service_->update_view(v);
  EXPECT_EQ(service_->authorize(key(5)), "backup_service_attestation_unknown");
  v.backup_attestation = near::BackupServiceAttestation{key(5), false, "", std::nullopt};
  service_->update_view(v);
  EXPECT_EQ(service_->authorize(key(5)), "backup_service_not_attested");
  v.backup_attestation = near::BackupServiceAttestation{key(6), true, "Mock", 2'000};
  service_->update_view(v);
  EXPECT_EQ(service_->authorize(key(5)), "backup_service_attestation_other_key");
  v.backup_attestation = near::BackupServiceAttestation{key(5), true, "Mock", 2'000};
  service_->update_view(v);
  EXPECT_EQ(service_->authorize(key(5)), std::nullopt);
  EXPECT_EQ(service_->handle(request(http::verb::get, "/get_keyshares", to_json(keyset_).dump()), key(5)).result_int(), 200u);
  // It expires while the connection is open: the next request is refused.
  now = 2'000;
  auto refused = service_->handle(request(http::verb::get, "/get_keyshares", to_json(keyset_).dump()), key(5));
  EXPECT_EQ(refused.result_int(), 403u);
  EXPECT_NE(refused.body().find("expired"), std::string::npos) << refused.body();
  EXPECT_EQ(service_->authorize(key(5)), "backup_service_attestation_expired");
}

}  // namespace
}  // namespace mpc::node
