// RunFreeBsdSelftest: every FreeBsdKernel seam call against `kernel`, one
// row per entry of FreeBsdKernelExpectations(), in its order. Portable: on
// Linux it runs against FakeFreeBsdKernel (tests/selftest), on FreeBSD
// against SystemFreeBsdKernel() (the `selftest` verb).

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/freebsd/kernel_expectations.h"
#include "jailwarden/selftest/selftest.h"

namespace jailwarden::selftest {
namespace {

using platform::ExpectOutput;
using platform::FreeBsdKernel;
using platform::JailParam;
using platform::KernelExpectation;

// What one call answered: an errno name ("" = success) and its text.
struct Answer {
  std::string error;
  std::string output;
};

std::string Fill(std::string_view text, const std::string& name, int jid,
                 const std::string& missing) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    auto take = [&](std::string_view key, const std::string& value) {
      if (text.substr(i, key.size()) != key) return false;
      out.append(value);
      i += key.size();
      return true;
    };
    if (take("{name}", name) || take("{jid}", StrCat(jid)) ||
        take("{missing}", missing)) {
      continue;
    }
    out.push_back(text[i++]);
  }
  return out;
}

class Prober {
 public:
  Prober(FreeBsdKernel& kernel, std::string name)
      : kernel_(kernel), name_(std::move(name)), missing_(StrCat(name_, "-absent")) {}

  // Records the row for expectation `id` from `answer`.
  void Record(std::string_view id, const Answer& answer) {
    const KernelExpectation* e = platform::FindKernelExpectation(id);
    Row row;
    row.area = std::string(e->call);
    row.check = StrCat(e->id, " (", Fill(e->input, name_, jid_, missing_), ")");
    row.observed = Describe(answer);
    const std::string want_out = Fill(e->output, name_, jid_, missing_);
    Answer want{std::string(e->error), want_out};
    row.expected = e->match == ExpectOutput::kAny ? (want.error.empty() ? "ok" : want.error)
                                                  : Describe(want);
    bool ok = answer.error == e->error;
    if (ok && e->match == ExpectOutput::kEquals) ok = answer.output == want_out;
    if (ok && e->match == ExpectOutput::kContains) {
      ok = answer.output.find(want_out) != std::string::npos;
    }
    row.verdict = ok ? Verdict::kMatch : Verdict::kDiffers;
    rows_.push_back(std::move(row));
  }

  // The five rctl(2) calls share one shape.
  using RctlCall = int (FreeBsdKernel::*)(const char*, std::size_t, char*, std::size_t);
  Answer Rctl(RctlCall call, std::string_view filter, std::size_t outlen = 64 * 1024) {
    const std::string in = Fill(filter, name_, jid_, missing_);
    std::vector<char> out(outlen == 0 ? 1 : outlen, '\0');
    const int r = (kernel_.*call)(in.c_str(), in.size() + 1,
                                  outlen == 0 ? nullptr : out.data(), outlen);
    if (r != 0) return Failed(errno);
    return {"", std::string(out.data(), strnlen(out.data(), out.size()))};
  }

  Answer Setv(int flags, const std::vector<JailParam>& params, int* jid_out = nullptr) {
    const int r = kernel_.JailSetv(flags, params);
    if (r < 0) {
      const int e = errno;
      return {std::string(ErrnoName(e)), kernel_.JailErrmsg()};
    }
    if (jid_out != nullptr) *jid_out = r;
    return {"", StrCat("jid ", r)};
  }

  Answer Getv(std::vector<JailParam>& params) {
    const int r = kernel_.JailGetv(0, params);
    if (r < 0) {
      const int e = errno;
      return {std::string(ErrnoName(e)), kernel_.JailErrmsg()};
    }
    std::vector<std::string> parts;
    for (const JailParam& p : params) {
      if (p.name == "name" && p.value == name_) continue;  // the key
      parts.push_back(StrCat(p.name, "=", p.value.value_or("")));
    }
    return {"", Join(parts, " ")};
  }

  static Answer Failed(int e) { return {std::string(ErrnoName(e)), ""}; }

  FreeBsdKernel& kernel() { return kernel_; }
  const std::string& name() const { return name_; }
  const std::string& missing() const { return missing_; }
  int jid() const { return jid_; }
  void set_jid(int jid) { jid_ = jid; }
  std::vector<Row>& rows() { return rows_; }

 private:
  static std::string Describe(const Answer& a) {
    std::string head = a.error.empty() ? "ok" : a.error;
    if (a.output.empty()) return head;
    return StrCat(head, ": \"", a.output, "\"");
  }

  FreeBsdKernel& kernel_;
  std::string name_;
  std::string missing_;
  int jid_ = 0;
  std::vector<Row> rows_;
};

Answer SysctlInt(FreeBsdKernel& kernel, const char* name) {
  // kern.racct.enable is a bool on newer releases, an int on older ones.
  unsigned char buf[8] = {};
  std::size_t len = sizeof buf;
  if (kernel.Sysctlbyname(name, buf, &len, nullptr, 0) != 0) {
    return Prober::Failed(errno);
  }
  int64_t v = 0;
  if (len == 1) {
    v = buf[0];
  } else if (len == 4) {
    int32_t i = 0;
    std::memcpy(&i, buf, sizeof i);
    v = i;
  } else if (len == 8) {
    std::memcpy(&v, buf, sizeof v);
  } else {
    return {"", StrCat("unexpected width ", len)};
  }
  return {"", StrCat(v)};
}

}  // namespace

Report RunFreeBsdSelftest(FreeBsdKernel& kernel, const FreeBsdSelftestOptions& options) {
  Prober p(kernel, options.jail_name.empty()
                       ? StrCat("jwselftest", static_cast<int64_t>(getpid()))
                       : options.jail_name);
  FreeBsdKernel& k = p.kernel();
  p.Record("sysctl.racct_enable", SysctlInt(k, "kern.racct.enable"));
  p.Record("sysctl.jailed", SysctlInt(k, "security.jail.jailed"));

  int jid = 0;
  const std::vector<JailParam> create = {{"name", p.name()},
                                         {"path", "/"},
                                         {"host.hostname", p.name()},
                                         {"ip4", "disable"},
                                         {"ip6", "disable"},
                                         {"persist", std::nullopt}};
  p.Record("jail_setv.create", p.Setv(platform::kJailCreate, create, &jid));
  p.set_jid(jid);
  p.Record("jail_setv.create_again",
           p.Setv(platform::kJailCreate,
                  {{"name", p.name()}, {"path", "/"}, {"persist", std::nullopt}}));
  p.Record("jail_setv.unknown_parameter",
           p.Setv(platform::kJailCreate,
                  {{"name", p.missing()}, {"path", "/"}, {"jailwarden.nosuch", "1"}}));
  p.Record("jail_setv.non_integer",
           p.Setv(platform::kJailCreate,
                  {{"name", p.missing()}, {"path", "/"}, {"children.max", "x"}}));
  {
    std::vector<JailParam> q = {{"name", p.name()}, {"jid", std::nullopt},
                                {"path", std::nullopt}};
    p.Record("jail_getv.by_name", p.Getv(q));
  }
  {
    std::vector<JailParam> q = {{"name", p.missing()}, {"jid", std::nullopt}};
    p.Record("jail_getv.missing", p.Getv(q));
  }
  if (jid > 0) {
    platform::ExecRequest req;
    req.argv = {options.true_program};
    req.timeout = absl::Seconds(10);
    platform::ExecResult res;
    if (k.RunCommand(jid, req, res) != 0) {
      p.Record("jail_attach.command", Prober::Failed(errno));
    } else {
      p.Record("jail_attach.command",
               {"", res.term_signal != 0 ? StrCat("signal ", res.term_signal)
                                         : StrCat("exit ", res.exit_code)});
    }
  } else {
    p.Record("jail_attach.command", {"", "not run: no jail"});
  }
  // A jid no jail can have: the selftest itself is never attached.
  p.Record("jail_attach.missing",
           k.JailAttach(-1) == 0 ? Answer{"", ""} : Prober::Failed(errno));

  p.Record("rctl_add_rule.deny",
           p.Rctl(&FreeBsdKernel::RctlAddRule, "jail:{name}:maxproc:deny=1000", 0));
  p.Record("rctl_get_rules.jail", p.Rctl(&FreeBsdKernel::RctlGetRules, "jail:{name}"));
  p.Record("rctl_add_rule.unknown_resource",
           p.Rctl(&FreeBsdKernel::RctlAddRule, "jail:{name}:nosuch:deny=1", 0));
  p.Record("rctl_add_rule.unit_suffix",
           p.Rctl(&FreeBsdKernel::RctlAddRule, "jail:{name}:maxproc:deny=1k", 0));
  p.Record("rctl_add_rule.negative_amount",
           p.Rctl(&FreeBsdKernel::RctlAddRule, "jail:{name}:maxproc:deny=-1", 0));
  p.Record("rctl_add_rule.not_fully_specified",
           p.Rctl(&FreeBsdKernel::RctlAddRule, "jail:{name}:maxproc", 0));
  p.Record("rctl_add_rule.deny_readbps",
           p.Rctl(&FreeBsdKernel::RctlAddRule, "jail:{name}:readbps:deny=1000", 0));
  p.Record("rctl_add_rule.throttle_maxproc",
           p.Rctl(&FreeBsdKernel::RctlAddRule, "jail:{name}:maxproc:throttle=10", 0));
  p.Record("rctl_get_racct.jail", p.Rctl(&FreeBsdKernel::RctlGetRacct, "jail:{name}"));
  p.Record("rctl_get_racct.no_id", p.Rctl(&FreeBsdKernel::RctlGetRacct, "jail:"));
  p.Record("rctl_get_racct.small_buffer",
           p.Rctl(&FreeBsdKernel::RctlGetRacct, "jail:{name}", 8));
  p.Record("rctl_get_limits.jail", p.Rctl(&FreeBsdKernel::RctlGetLimits, "jail:{name}"));
  p.Record("rctl_remove_rule.jail", p.Rctl(&FreeBsdKernel::RctlRemoveRule, "jail:{name}", 0));
  p.Record("rctl_get_rules.after_remove",
           p.Rctl(&FreeBsdKernel::RctlGetRules, "jail:{name}"));
  p.Record("rctl_remove_rule.none",
           p.Rctl(&FreeBsdKernel::RctlRemoveRule, "jail:{name}:maxproc", 0));
  {
    std::vector<platform::KinfoProc> procs;
    p.Record("kinfo_getallproc", k.KinfoGetallproc(procs) == 0
                                     ? Answer{"", ""}
                                     : Prober::Failed(errno));
  }
  if (jid > 0) {
    p.Record("jail_remove", k.JailRemove(jid) == 0 ? Answer{"", ""} : Prober::Failed(errno));
    p.Record("jail_remove.again",
             k.JailRemove(jid) == 0 ? Answer{"", ""} : Prober::Failed(errno));
    std::vector<JailParam> q = {{"jid", StrCat(jid)}, {"name", std::nullopt}};
    p.Record("jail_getv.removed", p.Getv(q));
  } else {
    for (const char* id : {"jail_remove", "jail_remove.again", "jail_getv.removed"}) {
      p.Record(id, {"", "not run: no jail"});
    }
  }
  // Whatever happened above, nothing of ours stays in the kernel.
  const std::string rules_of_ours = StrCat("jail:", p.name());
  (void)k.RctlRemoveRule(rules_of_ours.c_str(), rules_of_ours.size() + 1, nullptr, 0);
  if (jid > 0) (void)k.JailRemove(jid);

  Report report;
  report.platform = "freebsd";
  {
    // kern.ostype and kern.osrelease, as uname(3) reads them.
    char type[64] = {}, release[64] = {};
    std::size_t tl = sizeof type - 1, rl = sizeof release - 1;
    if (k.Sysctlbyname("kern.ostype", type, &tl, nullptr, 0) == 0 &&
        k.Sysctlbyname("kern.osrelease", release, &rl, nullptr, 0) == 0) {
      report.kernel = StrCat(std::string_view(type, strnlen(type, tl)), " ",
                             std::string_view(release, strnlen(release, rl)));
    }
  }
  report.rows = std::move(p.rows());
  return report;
}

}  // namespace jailwarden::selftest
