#include "sandbox/store.h"

#include <sqlite3.h>

#include <cstring>

namespace mpc::sandbox {

namespace {

core::Error db_error(sqlite3* db, const std::string& what) {
  return core::Error{core::ErrorCode::kInternal, "chain database: " + what + ": " + sqlite3_errmsg(db)};
}

// RAII prepared statement.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return stmt_; }
  void text(int i, const std::string& s) { sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT); }
  void blob(int i, const void* p, int n) { sqlite3_bind_blob(stmt_, i, p, n, SQLITE_TRANSIENT); }
  void i64(int i, std::int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  int step() { return sqlite3_step(stmt_); }
  // Ready for the next row's values (a statement prepared once per commit).
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::string col_text(int i) {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i))) : std::string();
  }
  core::Hash256 col_hash(int i) {
    core::Hash256 h{};
    if (sqlite3_column_bytes(stmt_, i) == 32) std::memcpy(h.data(), sqlite3_column_blob(stmt_, i), 32);
    return h;
  }
  std::int64_t col_i64(int i) { return sqlite3_column_int64(stmt_, i); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

json hashes_to_json(const std::vector<core::Hash256>& hs) {
  json a = json::array();
  for (const auto& h : hs) a.push_back(hash_to_base58(h));
  return a;
}

Block block_from_row(Stmt& s) {
  Block b;
  b.height = static_cast<std::uint64_t>(s.col_i64(0));
  b.hash = s.col_hash(1);
  b.prev_hash = s.col_hash(2);
  b.timestamp_ns = static_cast<std::uint64_t>(s.col_i64(3));
  json txs = json::parse(s.col_text(4), nullptr, false);
  if (txs.is_array()) {
    for (const auto& t : txs) {
      if (auto h = hash_from_base58(t.get<std::string>())) b.tx_hashes.push_back(*h);
    }
  }
  return b;
}

}  // namespace

Store::~Store() {
  // The writer closes last: the last connection to close checkpoints the WAL.
  if (reader_ != db_) sqlite3_close_v2(reader_);
  sqlite3_close_v2(db_);
}

core::Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    return core::fail(core::ErrorCode::kInternal, "cannot open chain database " + path.string() + ": " + msg);
  }
  std::unique_ptr<Store> store(new Store(db));
  sqlite3_busy_timeout(db, 5000);
  MPC_TRY(store->exec("PRAGMA journal_mode=WAL"));
  MPC_TRY(store->exec("PRAGMA synchronous=FULL"));
  MPC_TRY(store->exec("PRAGMA foreign_keys=ON"));
  MPC_TRY(store->exec(
      "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS accounts(account_id TEXT PRIMARY KEY, data TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS contracts(account_id TEXT PRIMARY KEY, state TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS blocks(height INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE,"
      "  prev_hash BLOB NOT NULL, timestamp_ns INTEGER NOT NULL, tx_hashes TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS transactions(hash BLOB PRIMARY KEY, signer_id TEXT NOT NULL,"
      "  block_height INTEGER NOT NULL, outcome TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS yields(data_id BLOB PRIMARY KEY, created_height INTEGER NOT NULL, data TEXT NOT NULL);"));
  if (path != ":memory:") {
    // Lookups read through their own connection: in WAL mode it sees the
    // last committed block while the writer is in the middle of the next.
    sqlite3* reader = nullptr;
    rc = sqlite3_open_v2(path.c_str(), &reader, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = reader ? sqlite3_errmsg(reader) : "out of memory";
      sqlite3_close_v2(reader);
      return core::fail(core::ErrorCode::kInternal, "cannot open chain database " + path.string() + " for reading: " + msg);
    }
    store->reader_ = reader;
    sqlite3_busy_timeout(reader, 5000);
    if (sqlite3_exec(reader, "PRAGMA query_only=1", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return std::unexpected(db_error(reader, "opening the reader"));
    }
  }
  return store;
}

core::Status Store::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return core::fail(core::ErrorCode::kInternal, "chain database: " + msg);
  }
  return {};
}

core::Result<bool> Store::has_genesis() {
  Stmt s(db_, "SELECT COUNT(*) FROM blocks");
  if (!s.ok() || s.step() != SQLITE_ROW) return std::unexpected(db_error(db_, "reading blocks"));
  return s.col_i64(0) > 0;
}

core::Result<StoredChain> Store::load() {
  StoredChain chain;
  {
    Stmt s(db_, "SELECT key, value FROM meta");
    if (!s.ok()) return std::unexpected(db_error(db_, "reading meta"));
    while (s.step() == SQLITE_ROW) chain.meta[s.col_text(0)] = s.col_text(1);
  }
  {
    Stmt s(db_, "SELECT account_id, data FROM accounts");
    if (!s.ok()) return std::unexpected(db_error(db_, "reading accounts"));
    while (s.step() == SQLITE_ROW) {
      std::string id = s.col_text(0);
      json j = json::parse(s.col_text(1), nullptr, false);
      auto account = account_from_json(j);
      if (!account) return core::fail(core::ErrorCode::kInternal, "chain database: account " + id + ": " + account.error().message);
      chain.accounts.emplace(std::move(id), std::move(*account));
    }
  }
  {
    Stmt s(db_, "SELECT account_id, state FROM contracts");
    if (!s.ok()) return std::unexpected(db_error(db_, "reading contracts"));
    while (s.step() == SQLITE_ROW) chain.contracts[s.col_text(0)] = s.col_text(1);
  }
  {
    Stmt s(db_, "SELECT data FROM yields ORDER BY created_height, rowid");
    if (!s.ok()) return std::unexpected(db_error(db_, "reading yields"));
    while (s.step() == SQLITE_ROW) {
      auto y = open_yield_from_json(json::parse(s.col_text(0), nullptr, false));
      if (!y) return core::fail(core::ErrorCode::kInternal, "chain database: " + y.error().message);
      chain.open_yields.push_back(std::move(*y));
    }
  }
  Stmt s(db_, "SELECT height, hash, prev_hash, timestamp_ns, tx_hashes FROM blocks ORDER BY height DESC LIMIT 1");
  if (!s.ok()) return std::unexpected(db_error(db_, "reading blocks"));
  if (s.step() != SQLITE_ROW) return core::fail(core::ErrorCode::kNotFound, "chain database has no genesis block");
  chain.head = block_from_row(s);
  return chain;
}

core::Status Store::commit(const BlockCommit& c) {
  // With one connection for both, a lookup must not read (or run its
  // statements inside) the transaction being written.
  std::unique_lock shared_connection(reader_mu_, std::defer_lock);
  if (reader_ == db_) shared_connection.lock();
  MPC_TRY(exec("BEGIN IMMEDIATE"));
  auto body = [&]() -> core::Status {
    for (const auto& [k, v] : c.meta) {
      Stmt s(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)");
      s.text(1, k);
      s.text(2, v);
      if (s.step() != SQLITE_DONE) return std::unexpected(db_error(db_, "writing meta"));
    }
    Stmt write_account(db_, "INSERT OR REPLACE INTO accounts(account_id, data) VALUES(?1, ?2)");
    for (const auto& [id, account] : c.accounts) {
      write_account.reset();
      write_account.text(1, id);
      write_account.text(2, account_to_json(account).dump(-1, ' ', false, json::error_handler_t::replace));
      if (write_account.step() != SQLITE_DONE) return std::unexpected(db_error(db_, "writing account"));
    }
    for (const auto& id : c.deleted_accounts) {
      Stmt s(db_, "DELETE FROM accounts WHERE account_id = ?1");
      s.text(1, id);
      if (s.step() != SQLITE_DONE) return std::unexpected(db_error(db_, "deleting account"));
    }
    for (const auto& [id, state] : c.contracts) {
      Stmt s(db_, "INSERT OR REPLACE INTO contracts(account_id, state) VALUES(?1, ?2)");
      s.text(1, id);
      s.text(2, state);
      if (s.step() != SQLITE_DONE) return std::unexpected(db_error(db_, "writing contract state"));
    }
    Stmt write_tx(db_, "INSERT OR REPLACE INTO transactions(hash, signer_id, block_height, outcome) VALUES(?1, ?2, ?3, ?4)");
    for (const auto& tx : c.txs) {
      write_tx.reset();
      write_tx.blob(1, tx.hash.data(), 32);
      write_tx.text(2, tx.signer_id);
      write_tx.i64(3, static_cast<std::int64_t>(tx.block_height));
      // Never throws on a string that is not UTF-8 (U+FFFD stands in): one
      // odd outcome must not stop every later block from being committed.
      write_tx.text(4, tx.outcome.dump(-1, ' ', false, json::error_handler_t::replace));
      if (write_tx.step() != SQLITE_DONE) return std::unexpected(db_error(db_, "writing transaction"));
    }
    for (const auto& y : c.opened_yields) {
      Stmt s(db_, "INSERT INTO yields(data_id, created_height, data) VALUES(?1, ?2, ?3)");
      s.blob(1, y.data_id.data(), 32);
      s.i64(2, static_cast<std::int64_t>(y.created_height));
      s.text(3, open_yield_to_json(y).dump());
      if (s.step() != SQLITE_DONE) return std::unexpected(db_error(db_, "writing yield"));
    }
    for (const auto& id : c.closed_yields) {
      Stmt s(db_, "DELETE FROM yields WHERE data_id = ?1");
      s.blob(1, id.data(), 32);
      if (s.step() != SQLITE_DONE) return std::unexpected(db_error(db_, "deleting yield"));
    }
    Stmt s(db_, "INSERT INTO blocks(height, hash, prev_hash, timestamp_ns, tx_hashes) VALUES(?1, ?2, ?3, ?4, ?5)");
    s.i64(1, static_cast<std::int64_t>(c.block.height));
    s.blob(2, c.block.hash.data(), 32);
    s.blob(3, c.block.prev_hash.data(), 32);
    s.i64(4, static_cast<std::int64_t>(c.block.timestamp_ns));
    s.text(5, hashes_to_json(c.block.tx_hashes).dump());
    if (s.step() != SQLITE_DONE) return std::unexpected(db_error(db_, "writing block"));
    return {};
  };
  core::Status st;
  try {
    st = body();
  } catch (const std::exception& e) {
    // Leave no transaction open behind us, or every later commit would fail.
    st = core::fail(core::ErrorCode::kInternal, std::string("chain database: writing the block failed: ") + e.what());
  }
  if (!st) {
    (void)exec("ROLLBACK");
    return st;
  }
  return exec("COMMIT");
}

core::Result<std::optional<Block>> Store::block_where(const char* sql, const void* key, int key_size, std::int64_t num) {
  std::lock_guard lock(reader_mu_);
  Stmt s(reader_, sql);
  if (!s.ok()) return std::unexpected(db_error(reader_, "reading block"));
  if (key) s.blob(1, key, key_size); else s.i64(1, num);
  int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<Block>();
  if (rc != SQLITE_ROW) return std::unexpected(db_error(reader_, "reading block"));
  return std::optional<Block>(block_from_row(s));
}

core::Result<std::optional<Block>> Store::block_by_height(std::uint64_t height) {
  return block_where("SELECT height, hash, prev_hash, timestamp_ns, tx_hashes FROM blocks WHERE height = ?1", nullptr, 0,
                     static_cast<std::int64_t>(height));
}

core::Result<std::optional<Block>> Store::block_by_hash(const core::Hash256& hash) {
  return block_where("SELECT height, hash, prev_hash, timestamp_ns, tx_hashes FROM blocks WHERE hash = ?1", hash.data(), 32, 0);
}

core::Result<std::optional<TxRecord>> Store::find_tx(const core::Hash256& hash) {
  std::lock_guard lock(reader_mu_);
  Stmt s(reader_, "SELECT signer_id, block_height, outcome FROM transactions WHERE hash = ?1");
  if (!s.ok()) return std::unexpected(db_error(reader_, "reading transaction"));
  s.blob(1, hash.data(), 32);
  int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<TxRecord>();
  if (rc != SQLITE_ROW) return std::unexpected(db_error(reader_, "reading transaction"));
  TxRecord t;
  t.hash = hash;
  t.signer_id = s.col_text(0);
  t.block_height = static_cast<std::uint64_t>(s.col_i64(1));
  t.outcome = json::parse(s.col_text(2), nullptr, false);
  return std::optional<TxRecord>(std::move(t));
}

}  // namespace mpc::sandbox
