#include "jailwarden/platform/freebsd/base_release.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jailwarden::platform {
namespace {

using ::testing::HasSubstr;

struct Entry {
  std::string name;
  mode_t type = AE_IFREG;
  mode_t perm = 0644;
  std::string data;      // file contents
  std::string link;      // symlink target
  std::string hardlink;  // hard link target
  int64_t uid = 0, gid = 0;
};

Entry Dir(std::string name, mode_t perm, int64_t gid = 0) {
  Entry e;
  e.name = std::move(name);
  e.type = AE_IFDIR;
  e.perm = perm;
  e.gid = gid;
  return e;
}
Entry File(std::string name, mode_t perm, std::string data) {
  Entry e;
  e.name = std::move(name);
  e.perm = perm;
  e.data = std::move(data);
  return e;
}
Entry Symlink(std::string name, std::string target) {
  Entry e;
  e.name = std::move(name);
  e.type = AE_IFLNK;
  e.perm = 0755;
  e.link = std::move(target);
  return e;
}
Entry Hardlink(std::string name, std::string target) {
  Entry e;
  e.name = std::move(name);
  e.hardlink = std::move(target);
  return e;
}

// A .txz made with libarchive itself, as a release's base.txz is.
void WriteTxz(const std::string& path, const std::vector<Entry>& entries) {
  struct archive* a = archive_write_new();
  ASSERT_EQ(archive_write_add_filter_xz(a), ARCHIVE_OK);
  ASSERT_EQ(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  for (const Entry& e : entries) {
    struct archive_entry* ae = archive_entry_new();
    archive_entry_set_pathname(ae, e.name.c_str());
    archive_entry_set_uid(ae, e.uid);
    archive_entry_set_gid(ae, e.gid);
    archive_entry_set_mtime(ae, 1700000000, 0);
    if (!e.hardlink.empty()) {
      archive_entry_set_hardlink(ae, e.hardlink.c_str());
      archive_entry_set_size(ae, 0);
    } else {
      archive_entry_set_filetype(ae, e.type);
      archive_entry_set_perm(ae, e.perm);
      if (e.type == AE_IFLNK) archive_entry_set_symlink(ae, e.link.c_str());
      archive_entry_set_size(ae, e.type == AE_IFREG ? static_cast<int64_t>(e.data.size()) : 0);
    }
    ASSERT_EQ(archive_write_header(a, ae), ARCHIVE_OK) << archive_error_string(a);
    if (e.type == AE_IFREG && e.hardlink.empty() && !e.data.empty()) {
      ASSERT_EQ(archive_write_data(a, e.data.data(), e.data.size()),
                static_cast<la_ssize_t>(e.data.size()));
    }
    archive_entry_free(ae);
  }
  ASSERT_EQ(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class BaseReleaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/jw-base-release-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
    txz_ = tmp_ + "/base.txz";
    root_ = tmp_ + "/jails/14.2-RELEASE";
    std::filesystem::create_directories(tmp_ + "/jails");
  }
  void TearDown() override { std::filesystem::remove_all(tmp_); }

  // Nothing but the archive and the empty parent: no DIR, no staging left.
  void ExpectNothingWritten() {
    std::vector<std::string> left;
    for (const auto& e : std::filesystem::directory_iterator(tmp_ + "/jails")) {
      left.push_back(e.path().filename().string());
    }
    EXPECT_THAT(left, ::testing::IsEmpty());
  }

  std::string tmp_, txz_, root_;
};

std::vector<Entry> SmallBase() {
  return {
      Dir("./", 0755),
      Dir("./bin/", 0755),
      File("./bin/sh", 0555, "#!sh\n"),
      Dir("./etc/", 0755),
      File("./etc/master.passwd", 0600, "root:*:0:0::0:0:Charlie &:/root:/bin/sh\n"),
      Dir("./usr/bin/", 0755),
      File("./usr/bin/passwd", 04555, "passwd\n"),
      Hardlink("./usr/bin/chpass", "./usr/bin/passwd"),
      Dir("./tmp/", 01777),
      Symlink("./etc/termcap", "/usr/share/misc/termcap"),
      Symlink("./sys", "usr/src/sys"),
      Dir("./var/mail/", 0775, 6),
  };
}

TEST_F(BaseReleaseTest, ExtractsFilesModesLinksAndOwners) {
  WriteTxz(txz_, SmallBase());
  std::vector<int64_t> progress;
  BaseExtractOptions options;
  options.keep_owners = geteuid() == 0;
  options.progress = [&](const BaseExtractProgress& p) {
    progress.push_back(p.entries);
    EXPECT_GT(p.archive_size, 0);
    EXPECT_LE(p.archive_bytes, p.archive_size);
  };
  absl::StatusOr<BaseExtractResult> r = ExtractBaseRelease(txz_, root_, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->entries, 11);  // every entry but the root itself
  EXPECT_EQ(progress.size(), 11u);
  EXPECT_EQ(ReadAll(root_ + "/bin/sh"), "#!sh\n");
  struct stat st{};
  ASSERT_EQ(stat(root_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(stat((root_ + "/etc/master.passwd").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(stat((root_ + "/tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  ASSERT_EQ(stat((root_ + "/usr/bin/passwd").c_str(), &st), 0);
  if (geteuid() == 0) {
    EXPECT_EQ(st.st_mode & 07777, 04555u);  // setuid kept as root
  }
  EXPECT_EQ(st.st_mtime, 1700000000);
  struct stat st2{};
  ASSERT_EQ(stat((root_ + "/usr/bin/chpass").c_str(), &st2), 0);
  EXPECT_EQ(st.st_ino, st2.st_ino);  // a hard link, as in the release
  EXPECT_EQ(std::filesystem::read_symlink(root_ + "/etc/termcap"), "/usr/share/misc/termcap");
  EXPECT_EQ(std::filesystem::read_symlink(root_ + "/sys"), "usr/src/sys");
  if (geteuid() == 0) {
    ASSERT_EQ(stat((root_ + "/var/mail").c_str(), &st), 0);
    EXPECT_EQ(st.st_gid, 6u);  // numeric ids from the archive, no name lookup
  }
  // No staging directory left beside it.
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp_ + "/jails")) {
    EXPECT_EQ(e.path().filename(), "14.2-RELEASE");
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST_F(BaseReleaseTest, AnEmptyDirIsFilledAndANonEmptyOneRefused) {
  WriteTxz(txz_, SmallBase());
  std::filesystem::create_directories(root_);
  ASSERT_TRUE(ExtractBaseRelease(txz_, root_, {}).ok());
  absl::StatusOr<BaseExtractResult> again = ExtractBaseRelease(txz_, root_, {});
  EXPECT_TRUE(absl::IsAlreadyExists(again.status())) << again.status();
  EXPECT_EQ(ReadAll(root_ + "/bin/sh"), "#!sh\n");
}

struct Unsafe {
  const char* label;
  std::vector<Entry> entries;
  const char* message;
};

TEST_F(BaseReleaseTest, UnsafeEntriesAreRefusedBeforeAnythingIsWritten) {
  const std::vector<Unsafe> cases = {
      {"dotdot", {Dir("./bin/", 0755), File("./bin/../../evil", 0644, "x")},
       "entry 1 \"./bin/../../evil\": \"..\" would escape DIR"},
      {"absolute", {File("/etc/passwd", 0644, "x")}, "entry 0 \"/etc/passwd\": absolute path"},
      {"through symlink", {Symlink("./lnk", "/"), File("./lnk/etc/passwd", 0644, "x")},
       "entry 1 \"./lnk/etc/passwd\": goes through the symlink \"lnk\""},
      {"relative symlink out", {Symlink("./up", "../.."), File("./up/x", 0644, "x")},
       "goes through the symlink \"up\""},
      {"hard link out", {Hardlink("./h", "../../etc/shadow")},
       "hard link to \"../../etc/shadow\""},
      {"hard link through symlink", {Symlink("./l", "/etc"), Hardlink("./h", "./l/shadow")},
       "would leave DIR"},
  };
  for (const Unsafe& c : cases) {
    SCOPED_TRACE(c.label);
    WriteTxz(txz_, c.entries);
    absl::StatusOr<BaseExtractResult> r = ExtractBaseRelease(txz_, root_, {});
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr(c.message));
    EXPECT_THAT(r.status().message(), HasSubstr(txz_));
    ExpectNothingWritten();
  }
}

TEST_F(BaseReleaseTest, MissingOrCorruptArchives) {
  absl::StatusOr<BaseExtractResult> r = ExtractBaseRelease(tmp_ + "/nope.txz", root_, {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
  {
    std::ofstream out(txz_);
    out << "this is not an archive";
  }
  r = ExtractBaseRelease(txz_, root_, {});
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  ExpectNothingWritten();
  // A truncated archive fails in the first pass too.
  WriteTxz(txz_, SmallBase());
  std::filesystem::resize_file(txz_, std::filesystem::file_size(txz_) / 2);
  r = ExtractBaseRelease(txz_, root_, {});
  EXPECT_FALSE(r.ok());
  ExpectNothingWritten();
}

}  // namespace
}  // namespace jailwarden::platform
