#include "node/migration_service.h"
#include "net/refusal.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <set>

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
    their_shares_ = std::move(dealt->shares[1]);
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
  // The shares a 200 answer of GET /get_keyshares carries: its whole body
  // (streamed), as Content-Length says, strict base64, then AES-GCM.
  core::Result<std::vector<model::Keyshare>> opened(const net::HttpResponse& r) {
    auto text = net::body_text(r);
    if (!text) return std::unexpected(text.error());
    EXPECT_EQ(r[http::field::content_length], std::to_string(text->size()));
    auto blob = core::base64_decode(*text);
    if (!blob) return std::unexpected(blob.error());
    auto plain = core::aes_gcm_decrypt(aes_, *blob);
    if (!plain) return std::unexpected(plain.error());
    return model::parse_keyshares(json::parse(core::to_string(plain->view())));
  }
  net::HttpResponse get(const model::Keyset& ks) { return get(to_json(ks).dump()); }
  net::HttpResponse get(std::string body) { return service_->handle(request(http::verb::get, "/get_keyshares", std::move(body)), key(5)); }
  static std::string private_shares(const std::vector<model::Keyshare>& v) {
    std::string all;
    for (const auto& s : v) all += s.private_share.reveal() + ",";
    return all;
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
  std::vector<model::Keyshare> their_shares_;  // participant 1's, of the same keyset
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
  auto shares = opened(ok);
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

// The answer of a body equal to the last one is not built again, but it is
// the store's current answer: a change of the held shares, or another body,
// is seen by the very next request.
TEST_F(MigrationServiceTest, TheSameBodyAgainIsServedFromTheStoresCurrentSharesWithAFreshNonce) {
  service_->update_view(view(false));
  ASSERT_TRUE(store_->import(clones(), keyset_));
  const std::string body = to_json(keyset_).dump();
  auto first = get(body);
  auto second = get(body);
  ASSERT_EQ(first.result_int(), 200u);
  ASSERT_EQ(second.result_int(), 200u);
  EXPECT_NE(*net::body_text(first), *net::body_text(second)) << "each answer is encrypted afresh (nonce)";
  auto a = opened(first), b = opened(second);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(private_shares(*a), private_shares(shares_));
  EXPECT_EQ(private_shares(*b), private_shares(shares_));

  // The other participant's shares of the same keyset (same key ids and
  // group keys, other private shares): the same body now gets those.
  std::vector<model::Keyshare> theirs;
  for (const auto& s : their_shares_) theirs.push_back(s.clone());
  ASSERT_TRUE(store_->import(std::move(theirs), keyset_)) << "same keyset, other private shares";
  auto after = opened(get(body));
  ASSERT_TRUE(after);
  EXPECT_NE(private_shares(*after), private_shares(shares_));
  EXPECT_EQ(private_shares(*after), private_shares(their_shares_));
  EXPECT_NE(metrics_.render().find("mpc_keyshares_served_total{outcome=\"served\"} 3"), std::string::npos) << metrics_.render();
}

// The server reads a GET /get_keyshares body against the last one served
// (net::RequestBody) and hands an equal one over shared, not copied: such a
// request is answered as the same bytes would be, and so is one that names
// a body served before another came in between.
TEST_F(MigrationServiceTest, ABodyHandedOverAsTheExpectedOneIsAnsweredAsItsBytes) {
  service_->update_view(view(false));
  ASSERT_TRUE(store_->import(clones(), keyset_));
  auto header = [](http::verb verb, std::string target) {
    net::RequestHeader h;
    h.method(verb);
    h.target(target);
    return h;
  };
  EXPECT_FALSE(service_->expected_body(header(http::verb::get, "/get_keyshares"))) << "nothing served yet";
  const std::string body = to_json(keyset_).dump();
  ASSERT_EQ(get(body).result_int(), 200u);
  auto expected = service_->expected_body(header(http::verb::get, "/get_keyshares?x=1"));
  ASSERT_TRUE(expected);
  EXPECT_EQ(*expected, body);
  EXPECT_FALSE(service_->expected_body(header(http::verb::put, "/set_keyshares")));
  EXPECT_FALSE(service_->expected_body(header(http::verb::get, "/hello")));

  auto shared_request = [&](net::SharedBody same_as) {
    auto r = request(http::verb::get, "/get_keyshares");
    r.body().same_as = std::move(same_as);
    return r;
  };
  auto answer = service_->handle(shared_request(expected), key(5));
  ASSERT_EQ(answer.result_int(), 200u) << *net::body_text(answer);
  auto shares = opened(answer);
  ASSERT_TRUE(shares);
  EXPECT_EQ(private_shares(*shares), private_shares(shares_));

  // Another body is served meanwhile; the older one, still handed over
  // shared, is then judged by its bytes: the same keyset, the same shares.
  model::Keyset other = keyset_;
  other.epoch_id += 1;
  EXPECT_EQ(get(other).result_int(), 500u) << "not held";
  ASSERT_NE(service_->expected_body(header(http::verb::get, "/get_keyshares")), expected);
  auto older = service_->handle(shared_request(expected), key(5));
  ASSERT_EQ(older.result_int(), 200u) << *net::body_text(older);
  shares = opened(older);
  ASSERT_TRUE(shares);
  EXPECT_EQ(private_shares(*shares), private_shares(shares_));
}

TEST_F(MigrationServiceTest, AnotherBodyIsParsedAndCheckedInFullAndBadBodiesAreStillRefused) {
  service_->update_view(view(false));
  ASSERT_TRUE(store_->import(clones(), keyset_));
  const std::string body = to_json(keyset_).dump();
  ASSERT_EQ(get(body).result_int(), 200u);
  // Not JSON, not a keyset, too deep: refused as before, after a served body.
  auto not_json = get(body.substr(0, body.size() - 1));
  EXPECT_EQ(not_json.result_int(), 400u);
  EXPECT_EQ(not_json.body(), "Invalid keyset: the body is not JSON");
  json broken = to_json(keyset_);
  broken["domains"][0]["key"] = "nonsense";
  auto bad_keyset = get(broken.dump());
  EXPECT_EQ(bad_keyset.result_int(), 400u);
  EXPECT_EQ(bad_keyset.body().rfind("Invalid keyset: ", 0), 0u) << bad_keyset.body();
  EXPECT_EQ(get(std::string(100, '[') + std::string(100, ']')).result_int(), 400u);
  // The same keyset in other bytes (another field order and spacing): parsed and served.
  auto spaced = get(to_json(keyset_).dump(2));
  ASSERT_EQ(spaced.result_int(), 200u) << spaced.body();
  EXPECT_TRUE(opened(spaced));
  // Another epoch, another domain set: checked against the store, refused.
  model::Keyset later = keyset_;
  later.epoch_id = 5;
  auto other_epoch = get(later);
  EXPECT_EQ(other_epoch.result_int(), 500u);
  EXPECT_NE(other_epoch.body().find("holds epoch 4"), std::string::npos) << other_epoch.body();
  model::Keyset fewer = keyset_;
  fewer.domains.pop_back();
  EXPECT_EQ(get(fewer).result_int(), 500u);
  EXPECT_EQ(get(fewer).result_int(), 500u) << "a body refused by the store stays refused";
  // And the first body again: served.
  EXPECT_TRUE(opened(get(body)));
}

TEST_F(MigrationServiceTest, AKeysetTheStoreNoLongerHoldsIsRefusedAtOnce) {
  service_->update_view(view(false));
  ASSERT_TRUE(store_->import(clones(), keyset_));
  const std::string body = to_json(keyset_).dump();
  ASSERT_EQ(get(body).result_int(), 200u);
  // The held set moves on to epoch 5 (a resharing): the epoch 4 body is refused.
  model::Keyset next = keyset_;
  next.epoch_id = 5;
  auto moved = clones();
  for (auto& s : moved) s.key_id.epoch_id = 5;
  ASSERT_TRUE(store_->import(std::move(moved), next));
  auto old = get(body);
  EXPECT_EQ(old.result_int(), 500u);
  EXPECT_NE(old.body().find("holds epoch 5"), std::string::npos) << old.body();
  auto now = opened(get(next));
  ASSERT_TRUE(now);
  EXPECT_EQ(now->front().key_id.epoch_id, 5u);
}

TEST_F(MigrationServiceTest, AnswersOfManyChunksDecryptWhole) {
  // A plaintext of several 12 KiB chunks; sealed sizes of each remainder mod 3
  // (so that each kind of final base64 group is written): every digit of the
  // epoch adds 161 bytes (one per share), 2 mod 3.
  std::set<std::size_t> remainders;
  const std::size_t n = 161;
  for (std::uint64_t epoch : {7u, 70u, 700u}) {
    std::vector<devnet::DomainToDeal> domains;
    for (std::size_t d = 0; d < n; ++d) domains.push_back({d, d % 2 ? model::CurveKind::kEd25519 : model::CurveKind::kSecp256k1, 0});
    auto dealt = devnet::deal_keyset(domains, std::vector<std::uint64_t>{0, 1}, 2, epoch);
    ASSERT_TRUE(dealt);
    fs::remove(dir_ / ("big-" + std::to_string(epoch)));
    core::SecretBytes local(32);
    core::random_fill(local.mutable_view());
    auto store = std::move(*KeyshareStore::open(dir_ / ("big-" + std::to_string(epoch)), std::move(local)));
    std::vector<model::Keyshare> mine;
    for (const auto& s : dealt->shares[0]) mine.push_back(s.clone());
    ASSERT_TRUE(store->import(std::move(mine), dealt->keyset));
    MigrationService service(*store, aes_.clone(), metrics_);
    service.update_view(view(false));
    auto r = service.handle(request(http::verb::get, "/get_keyshares", to_json(dealt->keyset).dump()), key(5));
    ASSERT_EQ(r.result_int(), 200u);
    auto served = store->serve(dealt->keyset);
    ASSERT_TRUE(served);
    EXPECT_GT(served->plaintext->reveal().size(), 3 * 12 * 1024u);
    remainders.insert((12 + served->plaintext->reveal().size() + 16) % 3);
    auto shares = opened(r);
    ASSERT_TRUE(shares) << shares.error().message;
    EXPECT_EQ(shares->size(), n);
    EXPECT_EQ(private_shares(*shares), private_shares(dealt->shares[0]));
  }
  EXPECT_EQ(remainders.size(), 3u);
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
