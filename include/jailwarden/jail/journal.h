#pragma once

// jail::Journal: the intent log of multi-step operations (apply, create,
// start, stop, restart, destroy, rctl -a/-r), so that after a kill -9 at any
// point the next daemon completes or rolls back what was half-done.
//
// One file per open operation, <dir>/op-<id>.json:
//
//   {"version": 1, "id": 7, "kind": "apply",
//    "args": {"remove": ["web"], "restart": [], ...},
//    "steps": ["removed:web", ...]}
//
// Begin writes the intent durably (temp file, fsync, rename, fsync of the
// directory) before the operation's first step; Step rewrites it the same
// way after each step; End unlinks it (and fsyncs the directory) once the
// operation is done or rolled back. Open reads what an earlier daemon left
// (the operations to replay, oldest first) and removes temp files a killed
// write left. What replay does per kind is the caller's (service::Lifecycle,
// docs/architecture.md "State").
//
// Thread-safety: every method is thread-safe (one mutex, held across the
// file writes so ids and files stay in step).

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace jailwarden::jail {

// One operation as recorded.
struct JournalOp {
  uint64_t id = 0;
  std::string kind;  // "apply", "create", "start", ... (the caller's words)
  // Named lists of strings: jail names, rules in kernel form, flags ("1").
  std::map<std::string, std::vector<std::string>> args;
  std::vector<std::string> steps;  // completed steps, in order

  // True when `step` was recorded.
  bool Done(std::string_view step) const;
  // The first value of args[key], "" if none.
  std::string Arg(std::string_view key) const;
  // args[key], empty if none.
  const std::vector<std::string>& List(std::string_view key) const;
};

// op-<id>.json text and back. FromJson: DataLoss "<where>: ..." on anything
// that is not such a record.
std::string JournalOpToJson(const JournalOp& op);
absl::StatusOr<JournalOp> JournalOpFromJson(std::string_view text, std::string_view where);

class Journal {
 public:
  // Opens (creating 0700 if missing) the journal directory `dir`
  // (absolute). Removes every `*.tmp` in it (a write killed before its
  // rename: the record it would have replaced is still there). `fsync`
  // false skips the fsyncs (tests). Errors: InvalidArgument (not
  // absolute), ErrnoStatus from mkdir/opendir/unlink/read, DataLoss for a
  // record that does not parse (the daemon must not guess what it was).
  static absl::StatusOr<std::unique_ptr<Journal>> Open(std::string dir, bool fsync = true);

  // The operations an earlier daemon left open, oldest first. Each stays
  // on disk until End(op.id).
  const std::vector<JournalOp>& pending() const { return pending_; }
  // Temp files Open removed (absolute paths), for the caller to log.
  const std::vector<std::string>& stale_removed() const { return stale_removed_; }

  // Records a new operation durably and returns its id. Crash point
  // "<kind>.begin" after the write (jail/crash_point.h).
  absl::StatusOr<uint64_t> Begin(std::string kind,
                                 std::map<std::string, std::vector<std::string>> args)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Appends `step` to operation `id` and rewrites it durably. Crash point
  // "<kind>.<step>" after the write. NotFound for an unknown id.
  absl::Status Step(uint64_t id, std::string step) ABSL_LOCKS_EXCLUDED(mu_);
  // The operation is finished (done or rolled back): its file is removed.
  // Crash point "<kind>.end" before the unlink. OK if already gone.
  absl::Status End(uint64_t id) ABSL_LOCKS_EXCLUDED(mu_);

  // Operations begun and not ended by this process (tests, the harness).
  size_t open_count() const ABSL_LOCKS_EXCLUDED(mu_);
  // The file of operation `id`.
  std::string PathOf(uint64_t id) const;

 private:
  Journal(std::string dir, bool fsync) : dir_(std::move(dir)), fsync_(fsync) {}
  absl::Status WriteLocked(const JournalOp& op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string dir_;
  const bool fsync_;
  std::vector<JournalOp> pending_;
  std::vector<std::string> stale_removed_;
  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, JournalOp> open_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jailwarden::jail
