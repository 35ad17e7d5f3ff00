// The chain store's durability as SQLite carries it out, observed through a
// VFS shim that wraps the default VFS and records every xWrite and xSync on
// the database and its WAL: each committed block must reach a sync of the
// file it was written to before commit() returns. A store opened with
// synchronous=OFF (or NORMAL, which in WAL mode does not sync commits)
// fails this test; kill -9 tests cannot tell, the page cache survives them.
#include "sandbox/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "support/sandbox/test_chain.h"

namespace mpc::sandbox {
namespace {

struct Counts {
  std::mutex mu;
  std::map<std::string, int> writes, syncs;          // by file name
  std::map<std::string, int> unsynced_writes;       // writes since that file's last sync
};
Counts g_counts;
sqlite3_vfs* g_real = nullptr;

struct ShimFile {
  sqlite3_file base;   // must be first: SQLite sees this
  sqlite3_file* real;  // the default VFS's file, allocated right after
  std::string name;
};

ShimFile* shim(sqlite3_file* f) { return reinterpret_cast<ShimFile*>(f); }
sqlite3_file* real(sqlite3_file* f) { return shim(f)->real; }

int x_close(sqlite3_file* f) {
  int rc = real(f)->pMethods ? real(f)->pMethods->xClose(real(f)) : SQLITE_OK;
  shim(f)->name.~basic_string();
  return rc;
}
int x_read(sqlite3_file* f, void* p, int n, sqlite3_int64 off) { return real(f)->pMethods->xRead(real(f), p, n, off); }
int x_write(sqlite3_file* f, const void* p, int n, sqlite3_int64 off) {
  int rc = real(f)->pMethods->xWrite(real(f), p, n, off);
  std::lock_guard lock(g_counts.mu);
  ++g_counts.writes[shim(f)->name];
  ++g_counts.unsynced_writes[shim(f)->name];
  return rc;
}
int x_truncate(sqlite3_file* f, sqlite3_int64 size) { return real(f)->pMethods->xTruncate(real(f), size); }
int x_sync(sqlite3_file* f, int flags) {
  int rc = real(f)->pMethods->xSync(real(f), flags);
  std::lock_guard lock(g_counts.mu);
  ++g_counts.syncs[shim(f)->name];
  g_counts.unsynced_writes[shim(f)->name] = 0;
  return rc;
}
int x_file_size(sqlite3_file* f, sqlite3_int64* size) { return real(f)->pMethods->xFileSize(real(f), size); }
int x_lock(sqlite3_file* f, int l) { return real(f)->pMethods->xLock(real(f), l); }
int x_unlock(sqlite3_file* f, int l) { return real(f)->pMethods->xUnlock(real(f), l); }
int x_check_reserved(sqlite3_file* f, int* out) { return real(f)->pMethods->xCheckReservedLock(real(f), out); }
int x_file_control(sqlite3_file* f, int op, void* arg) { return real(f)->pMethods->xFileControl(real(f), op, arg); }
int x_sector_size(sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); }
int x_device_characteristics(sqlite3_file* f) { return real(f)->pMethods->xDeviceCharacteristics(real(f)); }
int x_shm_map(sqlite3_file* f, int pg, int sz, int extend, void volatile** p) {
  return real(f)->pMethods->xShmMap(real(f), pg, sz, extend, p);
}
int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) { return real(f)->pMethods->xShmLock(real(f), offset, n, flags); }
void x_shm_barrier(sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); }
int x_shm_unmap(sqlite3_file* f, int del) { return real(f)->pMethods->xShmUnmap(real(f), del); }
int x_fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** p) { return real(f)->pMethods->xFetch(real(f), off, n, p); }
int x_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) { return real(f)->pMethods->xUnfetch(real(f), off, p); }

const sqlite3_io_methods kMethods = {3,           x_close,      x_read,         x_write,          x_truncate,
                                     x_sync,      x_file_size,  x_lock,         x_unlock,         x_check_reserved,
                                     x_file_control, x_sector_size, x_device_characteristics, x_shm_map, x_shm_lock,
                                     x_shm_barrier, x_shm_unmap, x_fetch,       x_unfetch};

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  ShimFile* s = shim(f);
  s->real = reinterpret_cast<sqlite3_file*>(s + 1);
  new (&s->name) std::string(name ? name : "");
  s->base.pMethods = nullptr;
  int rc = g_real->xOpen(g_real, name, s->real, flags, out_flags);
  if (rc == SQLITE_OK) s->base.pMethods = &kMethods;
  else s->name.~basic_string();
  return rc;
}
int x_delete(sqlite3_vfs*, const char* name, int sync_dir) { return g_real->xDelete(g_real, name, sync_dir); }
int x_access(sqlite3_vfs*, const char* name, int flags, int* out) { return g_real->xAccess(g_real, name, flags, out); }
int x_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) { return g_real->xFullPathname(g_real, name, n, out); }
void* x_dl_open(sqlite3_vfs*, const char* name) { return g_real->xDlOpen(g_real, name); }
void x_dl_error(sqlite3_vfs*, int n, char* msg) { g_real->xDlError(g_real, n, msg); }
void (*x_dl_sym(sqlite3_vfs*, void* h, const char* sym))(void) { return g_real->xDlSym(g_real, h, sym); }
void x_dl_close(sqlite3_vfs*, void* h) { g_real->xDlClose(g_real, h); }
int x_randomness(sqlite3_vfs*, int n, char* out) { return g_real->xRandomness(g_real, n, out); }
int x_sleep(sqlite3_vfs*, int us) { return g_real->xSleep(g_real, us); }
int x_current_time(sqlite3_vfs*, double* t) { return g_real->xCurrentTime(g_real, t); }
int x_get_last_error(sqlite3_vfs*, int n, char* out) { return g_real->xGetLastError(g_real, n, out); }
int x_current_time_int64(sqlite3_vfs*, sqlite3_int64* t) { return g_real->xCurrentTimeInt64(g_real, t); }

sqlite3_vfs g_shim;

// Makes the shim the default VFS of this test process (once).
void install_shim() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_real = sqlite3_vfs_find(nullptr);
    g_shim = *g_real;
    g_shim.zName = "mpc-sync-observer";
    g_shim.szOsFile = static_cast<int>(sizeof(ShimFile)) + g_real->szOsFile;
    g_shim.pNext = nullptr;
    g_shim.xOpen = x_open;
    g_shim.xDelete = x_delete;
    g_shim.xAccess = x_access;
    g_shim.xFullPathname = x_full_pathname;
    g_shim.xDlOpen = x_dl_open;
    g_shim.xDlError = x_dl_error;
    g_shim.xDlSym = x_dl_sym;
    g_shim.xDlClose = x_dl_close;
    g_shim.xRandomness = x_randomness;
    g_shim.xSleep = x_sleep;
    g_shim.xCurrentTime = x_current_time;
    g_shim.xGetLastError = x_get_last_error;
    g_shim.xCurrentTimeInt64 = x_current_time_int64;
    g_shim.xSetSystemCall = nullptr;
    g_shim.xGetSystemCall = nullptr;
    g_shim.xNextSystemCall = nullptr;
    ASSERT_EQ(sqlite3_vfs_register(&g_shim, 1), SQLITE_OK);
  });
}

TEST(StoreDurability, EveryCommittedBlockIsSyncedBeforeCommitReturns) {
  install_shim();
  const auto dir = testing::make_temp_dir("mpc-store-sync-");
  const std::string db = (dir / "chain.sqlite").string();
  auto store = Store::open(dir / "chain.sqlite");
  ASSERT_TRUE(store) << store.error().message;
  for (std::uint64_t h = 1; h <= 5; ++h) {
    BlockCommit c;
    c.block.height = h;
    c.block.hash.fill(static_cast<std::uint8_t>(h));
    c.block.timestamp_ns = h;
    c.meta["head"] = std::to_string(h);
    int wal_syncs_before = 0;
    {
      std::lock_guard lock(g_counts.mu);
      wal_syncs_before = g_counts.syncs[db + "-wal"];
    }
    ASSERT_TRUE((*store)->commit(c));
    std::lock_guard lock(g_counts.mu);
    EXPECT_GT(g_counts.writes[db + "-wal"], 0) << "the store does not write a WAL (journal_mode=WAL expected)";
    EXPECT_GT(g_counts.syncs[db + "-wal"], wal_syncs_before) << "block " << h << " was committed without a sync of the WAL";
    EXPECT_EQ(g_counts.unsynced_writes[db + "-wal"], 0) << "block " << h << ": WAL writes not yet synced when commit() returned";
  }
  store->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mpc::sandbox
