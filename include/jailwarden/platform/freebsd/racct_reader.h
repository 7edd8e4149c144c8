#pragma once

// FreeBsdRacctReader: the sampler's view of a FreeBSD host. One
// rctl_get_racct(2) call per jail per tick gives all 25 resources as the
// kernel keeps them (../shared/reference/freebsd-rctl.md §8.5); jails come
// from jail_getv(3) with "lastjid", processes from kinfo_getallproc(3).

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "jailwarden/platform/freebsd/kernel.h"
#include "jailwarden/platform/usage_reader.h"

namespace jailwarden::platform {

struct FreeBsdRacctReaderOptions {
  // First output buffer; grown ×4 on ERANGE and kept for later ticks. All
  // 25 pairs with 19-digit values take about 700 bytes.
  std::size_t initial_buffer_bytes = 1024;
  // Growth stops here (rctl_get_racct has no kernel-side bound).
  std::size_t max_buffer_bytes = 1024 * 1024;
};

// Thread-compatible: one instance per sampler thread (it owns the reused
// buffers). The kernel must outlive it.
class FreeBsdRacctReader final : public UsageReader {
 public:
  explicit FreeBsdRacctReader(FreeBsdKernel& kernel,
                              FreeBsdRacctReaderOptions options = {});

  // Every jail (jail_getv lastjid walk): name (hierarchical "a.b"), jid,
  // parent name, handle = jid. Errors: jail_getv's errno other than the
  // ENOENT that ends the walk.
  absl::StatusOr<std::vector<JailRef>> ListJails() override;

  // rctl_get_racct("jail:<name>"): all 25 resources present, none
  // cumulative (the kernel already gives pcpu and the IO rates). Does not
  // allocate once the buffers are warm. The kernel answers zeros for a
  // name it does not know (prison_racct_find creates the container), so a
  // jail that vanished is noticed by ListJails, not here.
  // Errors: Unimplemented (ENOSYS) with rctl(8)'s enosys text;
  // PermissionDenied (EPERM); InvalidArgument (EINVAL) when the output does
  // not parse; OutOfRange (ERANGE) past max_buffer_bytes.
  absl::Status ReadFast(const JailRef& jail, RawUsage& out) override;

  // Leaves `out` alone (the fast tier gives every resource) and appends
  // the jail's processes with their own racct ("process:<pid>", 17
  // resources; sloppy ones are not present). A process that exits between
  // the listing and its read (ESRCH) is skipped.
  absl::Status ReadSlow(const JailRef& jail, RawUsage& out,
                        std::vector<ProcessUsage>* processes) override;

  // All 25.
  ResourceMask Supported() const override;

  // Current size of the reused output buffer (for tests and metrics).
  std::size_t buffer_bytes() const { return buf_.size(); }

 private:
  absl::Status Read(std::string_view subject, std::string_view id, RawUsage& out);

  FreeBsdKernel& kernel_;
  FreeBsdRacctReaderOptions options_;
  std::string filter_;     // "jail:<name>", reused
  std::vector<char> buf_;  // rctl_get_racct output, reused
  std::vector<KinfoProc> procs_;
};

}  // namespace jailwarden::platform
