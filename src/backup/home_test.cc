#include "backup/home.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <random>

#include "backup/coverage.h"
#include "core/bytes.h"
#include "core/file_util.h"
#include "devnet/dealer.h"
#include "support/fault_injection_env.h"

namespace mpc::backup {
namespace {

using model::CurveKind;
using core::ErrorCode;

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 0777;
}

bool same_inode(const fs::path& a, const fs::path& b) {
  struct stat sa {}, sb {};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

std::string contents(const fs::path& p) { return *core::read_file(p); }

std::vector<model::Keyshare> clone_all(const std::vector<model::Keyshare>& v) {
  std::vector<model::Keyshare> out;
  for (const auto& k : v) out.push_back(k.clone());
  return out;
}

// The same group keys in another epoch (what a resharing produces for us).
std::vector<model::Keyshare> at_epoch(const std::vector<model::Keyshare>& v, std::uint64_t epoch) {
  auto out = clone_all(v);
  for (auto& k : out) k.key_id.epoch_id = epoch;
  return out;
}

std::vector<model::Keyshare> first_n(const std::vector<model::Keyshare>& v, std::size_t n) {
  std::vector<model::Keyshare> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(v[i].clone());
  return out;
}

// Participant 0's shares of a freshly dealt keyset (3 participants, t = 2).
devnet::DealtKeyset deal_domains(std::uint64_t epoch, std::size_t count) {
  std::vector<devnet::DomainToDeal> domains;
  for (std::size_t d = 0; d < count; ++d) {
    domains.push_back({d, d % 2 == 0 ? CurveKind::kSecp256k1 : CurveKind::kEd25519, d});
  }
  const std::vector<std::uint64_t> ids = {0, 1, 2};
  auto dealt = devnet::deal_keyset(domains, ids, 2, epoch);
  EXPECT_TRUE(dealt);
  return std::move(*dealt);
}

bool same_shares(const std::vector<model::Keyshare>& a, const std::vector<model::Keyshare>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!(a[i].key_id == b[i].key_id) || a[i].kind != b[i].kind || a[i].public_key != b[i].public_key ||
        a[i].private_share.reveal() != b[i].private_share.reveal()) {
      return false;
    }
  }
  return true;
}

std::size_t count_entries(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

class BackupHomeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("mpc-backup-test-" + core::hex_encode(core::random_bytes(6)));
    ASSERT_TRUE(core::ensure_directory(root_, 0700));
    home_dir_ = root_ / "home";
  }
  void TearDown() override { fs::remove_all(root_); }

  BackupStore store() const { return BackupStore(home_dir_, aes_.clone()); }

  fs::path root_, home_dir_;
  core::SecretBytes aes_{core::ByteView(core::random_bytes(16))};
};

// ---- secrets.json ----

TEST_F(BackupHomeTest, GenerateKeysWritesSecretsThatLoadBack) {
  BackupHome home(home_dir_);
  auto gen = home.generate_secrets(false);
  ASSERT_TRUE(gen) << gen.error().message;
  EXPECT_FALSE(gen->previous_copy);
  EXPECT_EQ(mode_of(home_dir_), 0700u);
  EXPECT_EQ(mode_of(home.secrets_file()), 0600u);

  auto loaded = home.load_secrets();
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->p2p_private_key.public_key(), gen->secrets.p2p_private_key.public_key());
  EXPECT_EQ(loaded->near_signer_key.public_key(), gen->secrets.near_signer_key.public_key());
  EXPECT_TRUE(loaded->local_storage_aes_key == gen->secrets.local_storage_aes_key);
  EXPECT_NE(loaded->p2p_private_key.public_key(), loaded->near_signer_key.public_key());

  // The reference's shape: three arrays of byte integers.
  auto j = model::json::parse(contents(home.secrets_file()));
  EXPECT_EQ(j.size(), 3u);
  EXPECT_EQ(j["p2p_private_key"].size(), 32u);
  EXPECT_EQ(j["near_signer_key"].size(), 32u);
  EXPECT_EQ(j["local_storage_aes_key"].size(), 16u);
  EXPECT_TRUE(j["local_storage_aes_key"][0].is_number_integer());
}

TEST_F(BackupHomeTest, GenerateKeysRefusesToOverwriteExistingSecrets) {
  BackupHome home(home_dir_);
  ASSERT_TRUE(home.generate_secrets(false));
  const std::string before = contents(home.secrets_file());
  auto again = home.generate_secrets(false);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  EXPECT_NE(again.error().message.find("refusing to overwrite"), std::string::npos);
  EXPECT_EQ(contents(home.secrets_file()), before);
}

TEST_F(BackupHomeTest, ForcedGenerateKeepsATimestampedCopyOfTheOldSecrets) {
  BackupHome home(home_dir_);
  ASSERT_TRUE(home.generate_secrets(false));
  const std::string first = contents(home.secrets_file());

  auto forced = home.generate_secrets(true);
  ASSERT_TRUE(forced) << forced.error().message;
  ASSERT_TRUE(forced->previous_copy);
  const std::string name = forced->previous_copy->filename().string();
  EXPECT_TRUE(name.starts_with("secrets.json.bak-")) << name;
  EXPECT_EQ(name.size(), std::string("secrets.json.bak-YYYYMMDDTHHMMSSZ").size()) << name;
  EXPECT_EQ(name.back(), 'Z');
  EXPECT_EQ(contents(*forced->previous_copy), first);
  EXPECT_EQ(mode_of(*forced->previous_copy), 0600u);
  EXPECT_EQ(mode_of(home.secrets_file()), 0600u);
  EXPECT_NE(contents(home.secrets_file()), first);
  EXPECT_EQ(home.load_secrets()->p2p_private_key.public_key(), forced->secrets.p2p_private_key.public_key());

  // A second force within the same second does not clobber the first copy.
  const std::string second = contents(home.secrets_file());
  auto again = home.generate_secrets(true);
  ASSERT_TRUE(again && again->previous_copy);
  EXPECT_NE(*again->previous_copy, *forced->previous_copy);
  EXPECT_EQ(contents(*again->previous_copy), second);
  EXPECT_EQ(contents(*forced->previous_copy), first);
  // No temporaries left behind.
  EXPECT_EQ(count_entries(home_dir_), 3u);
}

TEST_F(BackupHomeTest, ForcedGenerateWithoutOldSecretsJustWrites) {
  BackupHome home(home_dir_);
  auto forced = home.generate_secrets(true);
  ASSERT_TRUE(forced);
  EXPECT_FALSE(forced->previous_copy);
  EXPECT_TRUE(home.load_secrets());
}

TEST_F(BackupHomeTest, MissingSecretsIsNotFound) {
  auto r = BackupHome(home_dir_).load_secrets();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

TEST(Secrets, StrictParseNamesTheFieldAndNeverAValue) {
  auto arr = [](std::size_t n, int v) {
    std::string s = "[";
    for (std::size_t i = 0; i < n; ++i) s += (i ? "," : "") + std::to_string(v);
    return s + "]";
  };
  auto doc = [&](std::string p2p, std::string signer, std::string aes) {
    return "{\"p2p_private_key\":" + p2p + ",\"near_signer_key\":" + signer + ",\"local_storage_aes_key\":" + aes + "}";
  };
  ASSERT_TRUE(parse_secrets_json(doc(arr(32, 7), arr(32, 8), arr(16, 9))));
  // Unknown fields are ignored, as by the reference.
  EXPECT_TRUE(parse_secrets_json(R"({"extra":1,)" + doc(arr(32, 7), arr(32, 8), arr(16, 9)).substr(1)));

  struct Bad {
    std::string text;
    std::string field;
  };
  const std::vector<Bad> bad = {
      {doc(arr(31, 77), arr(32, 8), arr(16, 9)), "p2p_private_key"},
      {doc(arr(32, 7), arr(33, 77), arr(16, 9)), "near_signer_key"},
      {doc(arr(32, 7), arr(32, 8), arr(32, 77)), "local_storage_aes_key"},
      {doc(arr(32, 7), arr(32, 8), arr(16, 256)), "local_storage_aes_key"},
      {doc(arr(32, -1), arr(32, 8), arr(16, 9)), "p2p_private_key"},
      {doc("[1.5," + arr(31, 77).substr(1), arr(32, 8), arr(16, 9)), "p2p_private_key"},
      {doc(arr(32, 7), "\"0102\"", arr(16, 9)), "near_signer_key"},
      {R"({"p2p_private_key":)" + arr(32, 7) + R"(,"near_signer_key":)" + arr(32, 7) + "}", "local_storage_aes_key"},
  };
  for (const auto& b : bad) {
    auto r = parse_secrets_json(b.text);
    ASSERT_FALSE(r) << b.text;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find(b.field), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find("77"), std::string::npos) << r.error().message;
  }
  EXPECT_FALSE(parse_secrets_json("not json 77"));
  EXPECT_EQ(parse_secrets_json("not json 77").error().message.find("77"), std::string::npos);
  EXPECT_FALSE(parse_secrets_json("[1,2]"));
}

// ---- a home written by hand from the interop §6 text ----

TEST_F(BackupHomeTest, ReadsAHomeBuiltByHandFromTheReferenceLayout) {
  ASSERT_EQ(::mkdir(home_dir_.c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((home_dir_ / "permanent_keys").c_str(), 0700), 0);

  // secrets.json with explicit integer arrays.
  std::string p2p = "[", signer = "[", aes = "[";
  std::vector<std::uint8_t> p2p_bytes, aes_bytes;
  for (int i = 0; i < 32; ++i) {
    p2p += (i ? "," : "") + std::to_string(i + 1);
    p2p_bytes.push_back(static_cast<std::uint8_t>(i + 1));
    signer += (i ? "," : "") + std::to_string(255 - i);
  }
  for (int i = 0; i < 16; ++i) {
    aes += (i ? "," : "") + std::to_string(200 + i);
    aes_bytes.push_back(static_cast<std::uint8_t>(200 + i));
  }
  const std::string secrets_text = "{\n  \"p2p_private_key\": " + p2p + "],\n  \"near_signer_key\": " + signer +
                                   "],\n  \"local_storage_aes_key\": " + aes + "]\n}\n";
  {
    std::ofstream(home_dir_ / "secrets.json") << secrets_text;
  }

  // permanent_keys/epoch_4_with_2_domains = nonce || AES-128-GCM(JSON) || tag, and `key` linking to it.
  auto dealt = deal_domains(4, 2);
  const auto& mine = dealt.shares[0];
  std::string plain = R"({"epoch_id":4,"keyshares":[)";
  for (std::size_t i = 0; i < mine.size(); ++i) {
    const auto& k = mine[i];
    plain += std::string(i ? "," : "") + R"({"key_id":{"epoch_id":4,"domain_id":)" + std::to_string(k.key_id.domain_id) +
             R"(,"attempt_id":)" + std::to_string(k.key_id.attempt_id) + R"(},"data":{")" + model::curve_name(k.kind) +
             R"(":{"private_share":")" + k.private_share.reveal() + R"(","public_key":")" + k.public_key + R"("}}})";
  }
  plain += "]}";
  core::SecretBytes aes_key{core::ByteView(aes_bytes)};
  auto sealed = core::aes_gcm_encrypt(aes_key, core::as_bytes(plain));
  ASSERT_TRUE(sealed);
  const fs::path file = home_dir_ / "permanent_keys" / "epoch_4_with_2_domains";
  {
    std::ofstream out(file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(sealed->data()), static_cast<std::streamsize>(sealed->size()));
  }
  ASSERT_EQ(::link(file.c_str(), (home_dir_ / "key").c_str()), 0);

  // Secrets.
  BackupHome home(home_dir_);
  auto secrets = home.load_secrets();
  ASSERT_TRUE(secrets) << secrets.error().message;
  EXPECT_EQ(secrets->p2p_private_key.public_key(), core::Ed25519SecretKey::from_seed(p2p_bytes)->public_key());
  EXPECT_TRUE(secrets->local_storage_aes_key == aes_key);

  // Backups.
  BackupStore backups(home_dir_, secrets->local_storage_aes_key.clone());
  auto files = backups.list();
  ASSERT_TRUE(files);
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ((*files)[0].epoch_id, 4u);
  EXPECT_EQ((*files)[0].domains, 2u);
  EXPECT_TRUE((*files)[0].is_current);

  auto newest = backups.load_newest();
  ASSERT_TRUE(newest) << newest.error().message;
  ASSERT_TRUE(*newest);
  EXPECT_EQ((*newest)->epoch_id, 4u);
  EXPECT_EQ((*newest)->path, file);
  EXPECT_TRUE(same_shares((*newest)->keyshares, mine));
  EXPECT_TRUE(backup_coverage(*newest, dealt.keyset).up_to_date());

  // And our own store continues the reference's directory correctly.
  ASSERT_TRUE(backups.store(at_epoch(mine, 5)));
  EXPECT_TRUE(same_inode(home_dir_ / "key", home_dir_ / "permanent_keys" / "epoch_5_with_2_domains"));
  EXPECT_TRUE(fs::exists(file));
}

// ---- the backup store ----

TEST_F(BackupHomeTest, StoreAndLoadRoundTrip) {
  auto dealt = deal_domains(3, 2);
  auto s = store();
  EXPECT_FALSE(*s.load_newest());
  EXPECT_TRUE(s.list()->empty());

  auto r = s.store(dealt.shares[1]);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, StoreOutcome::kStored);

  const fs::path file = home_dir_ / "permanent_keys" / "epoch_3_with_2_domains";
  EXPECT_TRUE(fs::exists(file));
  EXPECT_EQ(mode_of(home_dir_), 0700u);
  EXPECT_EQ(mode_of(home_dir_ / "permanent_keys"), 0700u);
  EXPECT_EQ(mode_of(file), 0600u);
  EXPECT_TRUE(same_inode(file, home_dir_ / "key"));
  EXPECT_EQ(fs::hard_link_count(file), 2u);
  EXPECT_EQ(count_entries(home_dir_ / "permanent_keys"), 1u);  // no temporaries
  EXPECT_EQ(count_entries(home_dir_), 2u);                     // permanent_keys and key

  // The bytes are nonce || AES-128-GCM || tag of the reference JSON.
  auto plain = core::aes_gcm_decrypt(aes_, core::as_bytes(contents(file)));
  ASSERT_TRUE(plain);
  auto j = model::json::parse(core::to_string(plain->view()));
  EXPECT_EQ(j["epoch_id"], 3);
  EXPECT_EQ(j["keyshares"].size(), 2u);
  EXPECT_TRUE(j["keyshares"][0]["key_id"].contains("attempt_id"));

  auto loaded = s.load_newest();
  ASSERT_TRUE(loaded && *loaded);
  EXPECT_EQ((*loaded)->epoch_id, 3u);
  EXPECT_EQ((*loaded)->path, file);
  EXPECT_TRUE(same_shares((*loaded)->keyshares, dealt.shares[1]));
  auto direct = s.load_file(file);
  ASSERT_TRUE(direct);
  EXPECT_TRUE(same_shares(direct->keyshares, dealt.shares[1]));
}

TEST_F(BackupHomeTest, StoreSortsSharesByDomain) {
  auto dealt = deal_domains(1, 3);
  std::vector<model::Keyshare> reversed;
  for (auto it = dealt.shares[0].rbegin(); it != dealt.shares[0].rend(); ++it) reversed.push_back(it->clone());
  auto s = store();
  ASSERT_TRUE(s.store(reversed));
  auto loaded = s.load_newest();
  EXPECT_TRUE(same_shares((*loaded)->keyshares, dealt.shares[0]));
}

TEST_F(BackupHomeTest, StoringTheSameBackupAgainIsANoOp) {
  auto dealt = deal_domains(2, 2);
  auto s = store();
  ASSERT_TRUE(s.store(dealt.shares[0]));
  const std::string before = contents(home_dir_ / "key");
  auto again = s.store(dealt.shares[0]);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, StoreOutcome::kAlreadyStored);
  EXPECT_EQ(contents(home_dir_ / "key"), before);
  EXPECT_EQ(s.list()->size(), 1u);
}

TEST_F(BackupHomeTest, SameNameWithDifferentContentIsRefusedAndTheOldFileKept) {
  auto a = deal_domains(2, 2);
  auto b = deal_domains(2, 2);  // other keys, same epoch and domain count
  auto s = store();
  ASSERT_TRUE(s.store(a.shares[0]));
  const std::string before = contents(home_dir_ / "permanent_keys" / "epoch_2_with_2_domains");
  auto r = s.store(b.shares[0]);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kAlreadyExists);
  EXPECT_NE(r.error().message.find("kept unchanged"), std::string::npos) << r.error().message;
  EXPECT_EQ(contents(home_dir_ / "permanent_keys" / "epoch_2_with_2_domains"), before);
  EXPECT_TRUE(same_shares((*s.load_newest())->keyshares, a.shares[0]));
}

TEST_F(BackupHomeTest, AnOlderEpochIsRefusedAndTheNewerBackupStaysIntact) {
  auto dealt = deal_domains(5, 2);
  auto s = store();
  ASSERT_TRUE(s.store(dealt.shares[0]));
  const std::string before = contents(home_dir_ / "key");

  auto r = s.store(at_epoch(dealt.shares[0], 4));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(r.error().message.find("newer epoch 5"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("older epoch"), std::string::npos) << r.error().message;
  EXPECT_EQ(contents(home_dir_ / "key"), before);
  EXPECT_EQ((*s.load_newest())->epoch_id, 5u);
  EXPECT_EQ(s.list()->size(), 1u);
  EXPECT_FALSE(fs::exists(home_dir_ / "permanent_keys" / "epoch_4_with_2_domains"));
}

TEST_F(BackupHomeTest, NewerEpochsAndAddedDomainsAdvanceKeyAndKeepOldFiles) {
  auto dealt = deal_domains(1, 3);
  auto s = store();
  ASSERT_TRUE(s.store(first_n(dealt.shares[0], 2)));  // epoch 1, 2 domains
  auto shares = at_epoch(dealt.shares[0], 1);
  ASSERT_TRUE(s.store(shares));  // epoch 1, 3 domains (a domain was added)
  EXPECT_TRUE(same_inode(home_dir_ / "key", home_dir_ / "permanent_keys" / "epoch_1_with_3_domains"));
  ASSERT_TRUE(s.store(at_epoch(dealt.shares[0], 2)));  // resharing: epoch 2, same keys
  EXPECT_TRUE(same_inode(home_dir_ / "key", home_dir_ / "permanent_keys" / "epoch_2_with_3_domains"));

  auto files = s.list();
  ASSERT_TRUE(files);
  ASSERT_EQ(files->size(), 3u);
  EXPECT_EQ((*files)[0].path.filename(), "epoch_1_with_2_domains");
  EXPECT_EQ((*files)[1].path.filename(), "epoch_1_with_3_domains");
  EXPECT_EQ((*files)[2].path.filename(), "epoch_2_with_3_domains");
  EXPECT_FALSE((*files)[0].is_current);
  EXPECT_TRUE((*files)[2].is_current);
  for (const auto& f : *files) EXPECT_TRUE(s.load_file(f.path)) << f.path;

  // Fewer domains in the same epoch: refused.
  auto fewer = s.store(first_n(at_epoch(dealt.shares[0], 2), 2));
  ASSERT_FALSE(fewer);
  EXPECT_EQ(fewer.error().code, ErrorCode::kFailedPrecondition);
}

TEST_F(BackupHomeTest, AChangedGroupKeyOrADroppedDomainIsRefused) {
  auto dealt = deal_domains(1, 2);
  auto other = deal_domains(2, 2);
  auto s = store();
  ASSERT_TRUE(s.store(dealt.shares[0]));

  auto changed = s.store(other.shares[0]);  // epoch 2, different group keys
  ASSERT_FALSE(changed);
  EXPECT_EQ(changed.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(changed.error().message.find("group public key of domains 0, 1"), std::string::npos) << changed.error().message;

  // Epoch 2 holding domain 1 and a new domain 2, but not domain 0.
  auto three = deal_domains(2, 3);
  std::vector<model::Keyshare> dropped;
  dropped.push_back(at_epoch(dealt.shares[0], 2)[1].clone());
  dropped.push_back(three.shares[0][2].clone());
  auto r = s.store(dropped);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("lacks domains 0"), std::string::npos) << r.error().message;
  EXPECT_EQ((*s.load_newest())->epoch_id, 1u);
}

TEST_F(BackupHomeTest, StoreRejectsMalformedInput) {
  auto dealt = deal_domains(1, 2);
  auto s = store();
  EXPECT_EQ(s.store({}).error().code, ErrorCode::kInvalidArgument);
  auto mixed = clone_all(dealt.shares[0]);
  mixed[1].key_id.epoch_id = 2;
  EXPECT_EQ(s.store(mixed).error().code, ErrorCode::kInvalidArgument);
  auto twice = clone_all(dealt.shares[0]);
  twice[1].key_id.domain_id = twice[0].key_id.domain_id;
  EXPECT_EQ(s.store(twice).error().code, ErrorCode::kInvalidArgument);
  BackupStore bad_key(home_dir_, core::SecretBytes(core::ByteView(core::random_bytes(32))));
  EXPECT_FALSE(bad_key.store(dealt.shares[0]));
  EXPECT_FALSE(fs::exists(home_dir_ / "key"));
}

TEST_F(BackupHomeTest, TamperedTruncatedOrForeignFilesGiveClearErrors) {
  auto dealt = deal_domains(1, 2);
  auto s = store();
  ASSERT_TRUE(s.store(dealt.shares[0]));
  const fs::path file = home_dir_ / "permanent_keys" / "epoch_1_with_2_domains";

  // A wrong key.
  BackupStore wrong(home_dir_, core::SecretBytes(core::ByteView(core::random_bytes(16))));
  auto w = wrong.load_newest();
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(w.error().message.find("tampered"), std::string::npos) << w.error().message;

  // A file whose name disagrees with its content.
  const fs::path renamed = home_dir_ / "permanent_keys" / "epoch_9_with_2_domains";
  fs::copy_file(file, renamed);
  auto m = s.load_file(renamed);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("file name says epoch 9"), std::string::npos) << m.error().message;
  fs::remove(renamed);

  // One flipped bit (the file and `key` are the same inode).
  std::string bytes = contents(file);
  bytes[bytes.size() / 2] ^= 0x01;
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  auto t = s.load_newest();
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(t.error().message.find("cannot decrypt"), std::string::npos);
  EXPECT_NE(t.error().message.find("key"), std::string::npos);

  // Truncated below nonce + tag.
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << "short";
  }
  auto tr = s.load_file(file);
  ASSERT_FALSE(tr);
  EXPECT_EQ(tr.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(tr.error().message.find("not a backup file"), std::string::npos) << tr.error().message;

  // Valid encryption of something that is not a backup.
  auto sealed = core::aes_gcm_encrypt(aes_, core::as_bytes(R"({"epoch_id":1})"));
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(sealed->data()), static_cast<std::streamsize>(sealed->size()));
  }
  auto nb = s.load_file(file);
  ASSERT_FALSE(nb);
  EXPECT_NE(nb.error().message.find("\"keyshares\" is missing"), std::string::npos) << nb.error().message;

  // A store never builds on top of an unreadable newest backup.
  EXPECT_FALSE(s.store(at_epoch(dealt.shares[0], 2)));
}

TEST_F(BackupHomeTest, WithoutKeyTheNewestFileByNameIsLoaded) {
  auto dealt = deal_domains(1, 2);
  auto s = store();
  ASSERT_TRUE(s.store(dealt.shares[0]));
  ASSERT_TRUE(s.store(at_epoch(dealt.shares[0], 10)));
  ASSERT_TRUE(s.store(at_epoch(dealt.shares[0], 12)));
  fs::remove(home_dir_ / "key");
  auto newest = s.load_newest();
  ASSERT_TRUE(newest && *newest);
  EXPECT_EQ((*newest)->epoch_id, 12u);  // numeric order, not text order
  EXPECT_EQ((*newest)->path.filename(), "epoch_12_with_2_domains");
}

TEST_F(BackupHomeTest, AnInterruptedStoreIsCompletedByStoringAgain) {
  auto dealt = deal_domains(1, 2);
  auto s = store();
  ASSERT_TRUE(s.store(dealt.shares[0]));
  ASSERT_TRUE(s.store(at_epoch(dealt.shares[0], 2)));
  // As if killed after the new file got its name but before `key` moved.
  const fs::path old_file = home_dir_ / "permanent_keys" / "epoch_1_with_2_domains";
  const fs::path tmp = home_dir_ / ".key.tmp-test";
  ASSERT_EQ(::link(old_file.c_str(), tmp.c_str()), 0);
  ASSERT_EQ(::rename(tmp.c_str(), (home_dir_ / "key").c_str()), 0);
  // And leftovers of other interrupted stores.
  std::ofstream(home_dir_ / "permanent_keys" / ".tmp-deadbeef") << "partial";
  std::ofstream(home_dir_ / ".key.tmp-cafe") << "partial";

  EXPECT_EQ((*s.load_newest())->epoch_id, 1u);  // `key` still names the previous backup
  EXPECT_EQ(s.list()->size(), 2u);              // temporaries are not backups

  auto again = s.store(at_epoch(dealt.shares[0], 2));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, StoreOutcome::kAlreadyStored);
  EXPECT_EQ((*s.load_newest())->epoch_id, 2u);
  EXPECT_FALSE(fs::exists(home_dir_ / "permanent_keys" / ".tmp-deadbeef"));
  EXPECT_FALSE(fs::exists(home_dir_ / ".key.tmp-cafe"));
}

TEST(BackupFileName, OnlyCanonicalNamesAreBackups) {
  EXPECT_EQ(BackupStore::file_name(4, 2), "epoch_4_with_2_domains");
  auto ok = BackupStore::parse_file_name("epoch_18446744073709551615_with_3_domains");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->epoch_id, 18446744073709551615ull);
  EXPECT_EQ(ok->domains, 3u);
  for (const char* bad : {"key", "epoch_4_with_2_domains.tmp", "epoch_04_with_2_domains", "epoch_4_with__domains",
                          "epoch_-4_with_2_domains", "epoch_18446744073709551616_with_1_domains", ".tmp-abc", "imported",
                          "epoch_4_with_2_domain", "xepoch_4_with_2_domains"}) {
    EXPECT_FALSE(BackupStore::parse_file_name(bad)) << bad;
  }
}

// kill -9 at random instants during stores: `key` must always load, to a
// backup no older than the last one seen, and every named file must load.
TEST_F(BackupHomeTest, Kill9DuringStoreAlwaysLeavesALoadableBackup) {
  auto dealt = deal_domains(1, 3);
  const auto& shares = dealt.shares[0];
  {
    auto s = store();
    ASSERT_TRUE(s.store(shares));
  }
  const auto seed = std::random_device{}();
  std::cout << "kill_9_during_store: seed " << seed << "\n";
  RecordProperty("seed", static_cast<int>(seed & 0x7fffffff));
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> delay_us(0, 15000);
  std::uint64_t last_epoch = 1;
  int caught_mid_store = 0;  // rounds killed with a store visibly in flight
  constexpr int kRounds = 25;
  for (int round = 0; round < kRounds; ++round) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      auto s = store();
      auto newest = s.load_newest();
      if (!newest || !*newest) ::_exit(2);
      for (std::uint64_t e = (*newest)->epoch_id + 1, n = 0; n < 100000; ++e, ++n) {
        if (!s.store(at_epoch(shares, e))) ::_exit(3);
      }
      ::_exit(0);
    }
    ::usleep(static_cast<useconds_t>(delay_us(rng)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the storing child stopped by itself: exit " << WEXITSTATUS(status);

    auto s = store();
    auto newest = s.load_newest();
    ASSERT_TRUE(newest) << "round " << round << ": " << newest.error().message;
    ASSERT_TRUE(*newest);
    EXPECT_GE((*newest)->epoch_id, last_epoch);
    EXPECT_TRUE(same_shares((*newest)->keyshares, at_epoch(shares, (*newest)->epoch_id)));
    last_epoch = (*newest)->epoch_id;
    auto files = s.list();
    ASSERT_TRUE(files);
    // `key` is the newest named file, or the one before it (killed between
    // naming the new file and moving `key`).
    EXPECT_LE(files->back().epoch_id, last_epoch + 1);
    for (const auto& f : *files) ASSERT_TRUE(s.load_file(f.path)) << f.path;
    bool in_flight = files->back().epoch_id > last_epoch;
    for (const auto& dir : {home_dir_, home_dir_ / "permanent_keys"}) {
      for (const auto& e : fs::directory_iterator(dir)) in_flight |= e.path().filename().string().starts_with(".");
    }
    caught_mid_store += in_flight ? 1 : 0;
  }
  // The next store cleans up and succeeds.
  auto s = store();
  const std::uint64_t next = s.list()->back().epoch_id + 1;
  ASSERT_TRUE(s.store(at_epoch(shares, next)));
  EXPECT_EQ((*s.load_newest())->epoch_id, next);
  for (const auto& e : fs::directory_iterator(home_dir_ / "permanent_keys")) {
    EXPECT_TRUE(BackupStore::parse_file_name(e.path().filename().string())) << e.path();
  }
  EXPECT_GT(next, 2u) << "the children should have stored something";
  RecordProperty("stores", static_cast<int>(next));
  RecordProperty("caught_mid_store", caught_mid_store);
}

// A store stopped at every file operation, then a crash that drops what was
// not synced (FaultInjectionEnv): a restart always finds a loadable backup,
// the previous one or the new one, and the new one whenever store() had
// returned; the next store completes. Removing any fsync or directory sync
// from the store fails this test.
TEST_F(BackupHomeTest, ACrashAtEveryStepOfAStoreLosesNothingItReportedStored) {
  auto dealt = deal_domains(1, 3);
  const auto& shares = dealt.shares[0];
  for (std::size_t n = 0;; ++n) {
    fs::remove_all(home_dir_);
    ASSERT_TRUE(store().store(shares));  // epoch 1, durable
    testing::FaultInjectionEnv env;
    env.fail_after(n);
    BackupStore faulty(home_dir_, aes_.clone(), env);
    const bool returned = faulty.store(at_epoch(shares, 2)).has_value();
    const bool finished = !env.failed();
    env.crash();
    auto s = store();
    auto newest = s.load_newest();
    ASSERT_TRUE(newest) << "crash after " << n << " operations: " << newest.error().message;
    ASSERT_TRUE(*newest) << "crash after " << n << " operations: no backup at all";
    const auto epoch = (*newest)->epoch_id;
    if (returned) {
      EXPECT_EQ(epoch, 2u) << "crash after " << n << " operations: a store that returned was lost";
      EXPECT_TRUE(fs::exists(home_dir_ / "permanent_keys" / BackupStore::file_name(2, 3)))
          << "crash after " << n << " operations: the named file of a store that returned was lost";
    }
    else EXPECT_TRUE(epoch == 1 || epoch == 2) << "crash after " << n;
    EXPECT_TRUE(same_shares((*newest)->keyshares, at_epoch(shares, epoch))) << "crash after " << n;
    auto files = s.list();
    ASSERT_TRUE(files);
    for (const auto& f : *files) EXPECT_TRUE(s.load_file(f.path)) << "crash after " << n << ": " << f.path;
    ASSERT_TRUE(s.store(at_epoch(shares, 3))) << "crash after " << n << ": the next store";
    if (finished) break;
    ASSERT_LT(n, 100u);
  }
}

}  // namespace
}  // namespace mpc::backup
