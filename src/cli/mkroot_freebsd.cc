#include "cli/mkroot_freebsd.h"

#include <sysexits.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include "jailwarden/platform/freebsd/base_release.h"

namespace jailwarden::cli {

int RunMkrootFreeBsdBase(const std::string& from, const std::string& dir,
                         CommandContext& ctx) {
  if (from.empty()) {
    ctx.err << "jailwarden mkroot: freebsd-base needs --from base.txz (from a "
               "release's distribution files, e.g. .../releases/amd64/14.2-RELEASE/"
               "base.txz)\n";
    return EX_USAGE;
  }
  platform::BaseExtractOptions options;
  options.keep_owners = geteuid() == 0;
  const bool terminal = &ctx.err == &std::cerr && isatty(STDERR_FILENO) == 1;
  int last_percent = -1;
  if (terminal) {
    options.progress = [&](const platform::BaseExtractProgress& p) {
      const int percent = p.archive_size > 0
                              ? static_cast<int>(100 * p.archive_bytes / p.archive_size)
                              : -1;
      if (percent == last_percent && p.entries % 1000 != 0) return;
      last_percent = percent;
      ctx.err << "\rjailwarden mkroot: " << p.entries << " entries";
      if (percent >= 0) ctx.err << ", " << percent << "% of " << from;
      ctx.err.flush();
    };
  }
  absl::StatusOr<platform::BaseExtractResult> r =
      platform::ExtractBaseRelease(from, dir, options);
  if (terminal) ctx.err << "\n";
  if (!r.ok()) {
    ctx.err << "jailwarden mkroot: " << r.status().message() << "\n";
    switch (r.status().code()) {
      case absl::StatusCode::kNotFound:
        return EX_NOINPUT;
      case absl::StatusCode::kInvalidArgument:
        return EX_DATAERR;
      default:
        return EX_CANTCREAT;
    }
  }
  ctx.out << dir << ": FreeBSD base ready (" << r->entries << " entries, " << r->bytes
          << " bytes";
  if (r->warnings > 0) {
    ctx.out << "; " << r->warnings << " metadata not kept, first: " << r->first_warning;
  }
  ctx.out << ")\n";
  return EX_OK;
}

}  // namespace jailwarden::cli
