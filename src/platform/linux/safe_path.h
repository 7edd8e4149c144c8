#pragma once

// Resolving a path inside a jail's root from the host side without ever
// leaving the root (issue 13, items 3 and 4; docs/security.md "Path
// rules"). Every host-side operation on a path inside a jail root — mount
// targets, `copy`, `mkdir -p`, device nodes, files init writes — goes
// through these functions and then acts on the returned descriptor
// (mkdirat/openat/mknodat relative to it, mount(2) onto FdPath(fd)), so
// nothing can be swapped in between the check and the use.
//
// Semantics: RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS of openat2(2),
// relative to `root_fd`. A path is jail-relative ("/etc/x" and "etc/x"
// are the same). Symbolic links are followed only while they stay below
// the root: an absolute symlink, or a ".." (given or from a symlink) that
// would climb above the root, fails with EXDEV; procfs-style magic links
// (/proc/PID/fd/N, /proc/PID/root, ...) fail with ELOOP; more than 40
// symlinks fail with ELOOP. RESOLVE_BENEATH rather than RESOLVE_IN_ROOT:
// a link planted by the jail that points out of its root must fail the
// start with this error (and change nothing), not be re-targeted silently
// to some other place the jail chose.
//
// Where the kernel has no openat2 (before 5.6: ENOSYS) the same rules are
// applied by a walk, one component at a time with
// openat(O_PATH | O_NOFOLLOW), keeping a descriptor per level so ".." is
// answered by the walk itself and never by the file system. In the walk
// every symlink on procfs counts as a magic link.
//
// Abseil-free: linked into the static jailwarden-init as well as the
// daemon. Every function returns a descriptor (O_CLOEXEC) or -errno.
// Thread-safe (the method choice is one atomic).

#include <sys/types.h>

#include <string>
#include <string_view>

namespace jailwarden::platform {

enum class ResolveMethod {
  kAuto,     // openat2; the walk once openat2 answered ENOSYS
  kOpenat2,  // openat2 only (ENOSYS is returned)
  kWalk,     // the component walk only
};

// The method for the whole process. Tests force kWalk to check the
// fallback on a kernel that has openat2.
void SetResolveMethod(ResolveMethod method);
ResolveMethod GetResolveMethod();

// Opens `path` beneath `root_fd` with open(2) `flags` (O_CREAT and
// O_TMPFILE are refused: EINVAL; use the functions below). With
// O_NOFOLLOW a final symlink is not followed (O_PATH | O_NOFOLLOW then
// gives the link itself, as open(2) does). "" and "/" open the root.
int OpenBeneath(int root_fd, std::string_view path, int flags);

// mkdir -p beneath `root_fd`: resolves `path`, creating each missing
// directory with mkdirat(parent fd, name, mode). Returns an O_PATH |
// O_DIRECTORY descriptor of the last one. ENOTDIR when a component exists
// and is no directory (or a symlink to something that is none), ENOENT
// when it is a dangling symlink.
int MkdirAllBeneath(int root_fd, std::string_view path, mode_t mode);

// Opens the file `path` beneath `root_fd` for `flags` (O_RDONLY, O_WRONLY
// or O_RDWR, maybe O_TRUNC), creating it with `mode` (parents with 0755)
// when missing. An existing final symlink is followed beneath the root;
// the result must be a regular file (else EISDIR for a directory,
// ENXIO for a device, fifo or socket — never opened, so a fifo cannot
// block the caller and a device node sees no open). The name must be a
// file name (not ".", ".." or empty: EINVAL).
int OpenFileBeneath(int root_fd, std::string_view path, int flags, mode_t mode);

// Why a resolution failed, for error messages: EXDEV "a symbolic link or
// \"..\" on the path leads out of the jail's root", ELOOP "a magic link or
// more than 40 symbolic links on the path"; "" for other errors.
const char* SafePathHint(int err);

// "/proc/self/fd/N": the path through which mount(2), chmod(2) and the
// like act on exactly the inode `fd` refers to (as runc does for mount
// targets).
std::string FdPath(int fd);

// Splits a jail path into its parent and its last component: "/a/b/c" ->
// {"/a/b", "c"}, "c" -> {"", "c"}. Trailing slashes are dropped.
struct PathSplit {
  std::string parent;
  std::string name;
};
PathSplit SplitLast(std::string_view path);

}  // namespace jailwarden::platform
