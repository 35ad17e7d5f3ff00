// Durable chain storage on SQLite (WAL, synchronous=FULL).
//
// One block is one SQLite transaction: the block row, every account and
// contract state the block changed, and the block's transaction records are
// committed together, so after a crash the store holds whole blocks only.
//
// Thread safety: has_genesis, load and commit from one thread at a time (the
// Chain serialises them). The lookups (block_by_height, block_by_hash,
// find_tx) are safe from any thread, also while a commit runs: they read
// through a connection of their own and see committed blocks only.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sandbox/ledger.h"

struct sqlite3;

namespace mpc::sandbox {

struct BlockCommit {
  Block block;
  std::map<std::string, Account> accounts;      // changed or created
  std::vector<std::string> deleted_accounts;
  std::map<std::string, std::string> contracts;  // account id -> serialised contract state
  // The block's transactions, and earlier transactions whose outcome the
  // block completed (a yield callback ran): a record replaces the stored one.
  std::vector<TxRecord> txs;
  std::vector<OpenYield> opened_yields;          // created in this block, still open
  std::vector<core::Hash256> closed_yields;      // stored earlier, resolved in this block
  std::map<std::string, std::string> meta;
};

struct StoredChain {
  std::map<std::string, std::string> meta;
  std::map<std::string, Account> accounts;
  std::map<std::string, std::string> contracts;
  std::vector<OpenYield> open_yields;            // by creation height
  Block head;
};

class Store {
 public:
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // ":memory:" opens a private in-memory database (lookups then share the
  // writer's connection and wait for a commit to finish).
  static core::Result<std::unique_ptr<Store>> open(const std::filesystem::path& path);

  // True once a genesis block has been committed.
  core::Result<bool> has_genesis();
  core::Result<StoredChain> load();
  core::Status commit(const BlockCommit& commit);

  core::Result<std::optional<Block>> block_by_height(std::uint64_t height);
  core::Result<std::optional<Block>> block_by_hash(const core::Hash256& hash);
  core::Result<std::optional<TxRecord>> find_tx(const core::Hash256& hash);

 private:
  explicit Store(sqlite3* db) : db_(db), reader_(db) {}
  core::Status exec(const char* sql);
  core::Result<std::optional<Block>> block_where(const char* where, const void* key, int key_size, std::int64_t num);
  sqlite3* db_;      // writes (and load)
  sqlite3* reader_;  // lookups, under reader_mu_; db_ itself for an in-memory database
  std::mutex reader_mu_;
};

}  // namespace mpc::sandbox
