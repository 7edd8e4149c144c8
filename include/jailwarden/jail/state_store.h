#pragma once

// The persistent state of jails under a state directory, as libioc keeps
// it (jails/<name>/config.json), plus runtime state (state.json) so a new
// jailwarden can adopt or clean up what an old one left running.
// Files are written atomically: temp file, fsync, rename, fsync directory.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jailwarden/jail/spec_codec.h"  // SpecToJson, SpecFromJson: config.json
#include "jailwarden/platform/jail_runtime.h"
#include "jailwarden/platform/jail_spec.h"

namespace jailwarden::jail {

enum class JailState : uint8_t {
  kStopped,   // defined (config stored), no kernel jail
  kStarting,  // a start is in progress (or was interrupted)
  kRunning,   // the kernel jail exists
  kStopping,  // a stop is in progress (or was interrupted)
};

// "stopped", "starting", "running", "stopping".
std::string_view JailStateName(JailState state);
// Inverse of JailStateName; InvalidArgument on anything else.
absl::StatusOr<JailState> ParseJailState(std::string_view text);

// One jail as the manager keeps it.
struct JailRecord {
  platform::JailSpec spec;
  JailState state = JailState::kStopped;
  int64_t jid = -1;        // -1 when stopped
  bool ephemeral = false;  // made by Manager::Run, forgotten when it ends
  // What the backend did (valid when state != kStopped). instance.ref.name
  // is spec.name and instance.ref.jid is jid.
  platform::JailInstance instance;
  // Steps of the current start that completed, for rollback and for
  // cleaning up after a crash: "prepare", "create", ... (Manager's names).
  std::vector<std::string> done;
};

// Serializes the runtime part of a record (state, jid, ephemeral, instance,
// done) as state.json text, and parses it back into `rec` (spec untouched).
std::string RuntimeToJson(const JailRecord& rec);
absl::Status RuntimeFromJson(std::string_view text, JailRecord& rec);

// Records of defined jails live in <root>/jails/<name>/ and are written
// durably. The record of an ephemeral jail (Manager::Run) is one file,
// <root>/transient/<name>.json (spec and runtime), written atomically but
// without fsync, as
// systemd keeps transient units in /run: everything such a record describes
// (processes, cgroups, mounts) ends with the machine, so after a power cut
// there is nothing to adopt or clean up, and after a crash of jailwarden
// alone the files are in the page cache, where the next manager reads them.
// A transient record that cannot be read is the residue of a power cut.
class StateStore {
 public:
  // `root` absolute; created (0700) if missing. `fsync` as ManagerOptions.
  // `transient_dir`: where transient records go ("" = <root>/transient);
  // absolute, created (0700) if missing.
  // Open removes what writes killed between open and rename left: every
  // `*.tmp` file in the jail directories and the transient directory,
  // <root>/manager.json.tmp, and jail directories left empty without a
  // config.json (a create killed before its record existed), and
  // jails/.<name>.removing directories (a Remove killed half-way); see
  // stale_removed(). It assumes it is the only writer (the daemon holds the
  // state directory's lock). Errors: ErrnoStatus from mkdir(2),
  // opendir(2), unlink(2) or fsync(2).
  static absl::StatusOr<std::unique_ptr<StateStore>> Open(std::string root, bool fsync,
                                                          std::string transient_dir = "");

  // <root>/jails/<name>
  std::string JailDir(std::string_view name) const;
  // <transient dir>/<name>.json
  std::string TransientFile(std::string_view name) const;

  // Writes config.json and state.json for `rec` (its transient file when
  // rec.ephemeral).
  absl::Status Save(const JailRecord& rec);
  // Writes only state.json (the whole transient file when rec.ephemeral).
  absl::Status SaveRuntime(const JailRecord& rec);
  // Loads one jail. NotFound if jails/<name>/config.json (or
  // transient/<name>.json) does not exist. A transient record always loads
  // with ephemeral true.
  absl::StatusOr<JailRecord> Load(std::string_view name, bool transient = false) const;
  // Names of every directory under jails/ (or of every *.json file under
  // transient/), sorted.
  absl::StatusOr<std::vector<std::string>> ListNames(bool transient = false) const;
  // Removes jails/<name>/ and everything in it (or transient/<name>.json):
  // renamed to jails/.<name>.removing first (one atomic step, fsync'd),
  // then deleted, so a kill leaves the jail either defined or gone.
  // OK if already gone.
  absl::Status Remove(std::string_view name, bool transient = false);

  // manager.json: the last JID handed out (0 if none yet). A hint only (a
  // new manager also skips JIDs of adopted jails), so written without fsync.
  absl::StatusOr<int64_t> LoadLastJid() const;
  absl::Status SaveLastJid(int64_t jid);

  // What Open removed (absolute paths), for the caller to log once.
  const std::vector<std::string>& stale_removed() const { return stale_removed_; }

  // Writes `contents` to `path` atomically (temp, fsync, rename, fsync dir).
  // `durable` false skips the fsyncs (still atomic, maybe lost on a power
  // cut); it is ignored when the store was opened without fsync.
  absl::Status WriteFileAtomically(const std::string& path,
                                   std::string_view contents, bool durable = true);

 private:
  StateStore(std::string root, bool fsync, std::string transient_dir)
      : root_(std::move(root)), fsync_(fsync), transient_dir_(std::move(transient_dir)) {}
  absl::StatusOr<JailRecord> LoadTransient(std::string_view name) const;
  // <root>/jails/.<name>.removing: where Remove moves a jail's directory
  // before deleting it.
  std::string RemovingDir(std::string_view name) const;
  // rm -r of `dir` (absent is fine), then fsync of jails/.
  absl::Status RemoveTree(const std::string& dir);
  absl::Status RemoveStaleTempFiles();
  std::string root_;
  bool fsync_;
  std::string transient_dir_;
  std::vector<std::string> stale_removed_;
};

}  // namespace jailwarden::jail
