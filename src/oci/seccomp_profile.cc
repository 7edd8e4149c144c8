// linux.seccomp → a classic BPF program (spec.h, CompileSeccompProfile).

#include <seccomp.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"
#include "oci/spec.h"

namespace jailwarden::oci {
namespace {

using json = nlohmann::json;

absl::StatusOr<uint32_t> Action(const json& obj, const std::string& ptr) {
  std::string a = obj.value("action", obj.value("defaultAction", ""));
  int errno_ret = obj.value("errnoRet", obj.value("defaultErrnoRet", EPERM));
  if (a == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (a == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(static_cast<uint16_t>(errno_ret));
  if (a == "SCMP_ACT_KILL" || a == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL;
  if (a == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (a == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (a == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (a == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(static_cast<uint16_t>(errno_ret));
  return absl::InvalidArgumentError(StrCat(ptr, ": seccomp action '", a, "' not supported"));
}

absl::StatusOr<scmp_compare> Op(const std::string& op, const std::string& ptr) {
  if (op == "SCMP_CMP_NE") return SCMP_CMP_NE;
  if (op == "SCMP_CMP_LT") return SCMP_CMP_LT;
  if (op == "SCMP_CMP_LE") return SCMP_CMP_LE;
  if (op == "SCMP_CMP_EQ") return SCMP_CMP_EQ;
  if (op == "SCMP_CMP_GE") return SCMP_CMP_GE;
  if (op == "SCMP_CMP_GT") return SCMP_CMP_GT;
  if (op == "SCMP_CMP_MASKED_EQ") return SCMP_CMP_MASKED_EQ;
  return absl::InvalidArgumentError(StrCat(ptr, ": seccomp operator '", op, "' not supported"));
}

uint32_t Arch(const std::string& name) {
  static const std::pair<const char*, uint32_t> kArchs[] = {
      {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64}, {"SCMP_ARCH_X86", SCMP_ARCH_X86},
      {"SCMP_ARCH_X32", SCMP_ARCH_X32},       {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
      {"SCMP_ARCH_ARM", SCMP_ARCH_ARM}};
  for (const auto& [n, v] : kArchs) {
    if (name == n) return v;
  }
  return 0;
}

class Ctx {
 public:
  explicit Ctx(uint32_t def) : ctx_(seccomp_init(def)) {}
  ~Ctx() {
    if (ctx_ != nullptr) seccomp_release(ctx_);
  }
  Ctx(const Ctx&) = delete;
  Ctx& operator=(const Ctx&) = delete;
  scmp_filter_ctx get() const { return ctx_; }

 private:
  scmp_filter_ctx ctx_;
};

}  // namespace

absl::StatusOr<std::string> CompileSeccompProfile(std::string_view seccomp_json) {
  json j;
  try {
    j = json::parse(seccomp_json);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(StrCat("/linux/seccomp: ", e.what()));
  }
  for (const auto& [key, value] : j.items()) {
    if (key != "defaultAction" && key != "defaultErrnoRet" && key != "architectures" &&
        key != "syscalls" && key != "flags") {
      return absl::InvalidArgumentError(StrCat("/linux/seccomp/", key, ": not supported"));
    }
  }
  if (j.contains("flags") && !j["flags"].empty()) {
    return absl::InvalidArgumentError("/linux/seccomp/flags: not supported by jailwarden");
  }
  absl::StatusOr<uint32_t> def = Action(j, "/linux/seccomp/defaultAction");
  if (!def.ok()) return def.status();
  Ctx ctx(*def);
  if (ctx.get() == nullptr) {
    return absl::InternalError("seccomp_init failed");
  }
  // Rules whose action equals the default are refused by libseccomp; the
  // profile's own values take effect for argument comparisons.
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0);
  const json archs = j.value("architectures", json::array());
  for (std::size_t i = 0; i < archs.size(); ++i) {
    uint32_t a = Arch(archs[i].get<std::string>());
    if (a == 0) {
      continue;  // an architecture this host's kernel never runs
    }
    int rc = seccomp_arch_add(ctx.get(), a);
    if (rc != 0 && rc != -EEXIST) {
      return ErrnoStatus(-rc, StrCat("seccomp_arch_add /linux/seccomp/architectures/", i));
    }
  }
  const json calls = j.value("syscalls", json::array());
  for (std::size_t i = 0; i < calls.size(); ++i) {
    std::string ptr = StrCat("/linux/seccomp/syscalls/", i);
    absl::StatusOr<uint32_t> act = Action(calls[i], ptr + "/action");
    if (!act.ok()) return act.status();
    if (*act == *def) {
      continue;
    }
    std::vector<scmp_arg_cmp> cmps;
    const json args = calls[i].value("args", json::array());
    for (std::size_t k = 0; k < args.size(); ++k) {
      absl::StatusOr<scmp_compare> op =
          Op(args[k].value("op", ""), StrCat(ptr, "/args/", k, "/op"));
      if (!op.ok()) return op.status();
      cmps.push_back(scmp_arg_cmp{args[k].value("index", 0u), *op,
                                  args[k].value("value", uint64_t{0}),
                                  args[k].value("valueTwo", uint64_t{0})});
    }
    for (const std::string& name : calls[i].value("names", std::vector<std::string>{})) {
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) {
        continue;  // unknown to this libseccomp: as runc, skipped
      }
      int rc = seccomp_rule_add_array(ctx.get(), *act, nr, static_cast<unsigned>(cmps.size()),
                                      cmps.empty() ? nullptr : cmps.data());
      if (rc != 0) {
        return ErrnoStatus(-rc, StrCat("seccomp_rule_add ", ptr, " (", name, ")"));
      }
    }
  }
  // Exported through a pipe-sized memfd: libseccomp writes to a descriptor.
  FILE* mem = tmpfile();
  if (mem == nullptr) {
    return ErrnoStatus(errno, "tmpfile");
  }
  int rc = seccomp_export_bpf(ctx.get(), fileno(mem));
  if (rc != 0) {
    fclose(mem);
    return ErrnoStatus(-rc, "seccomp_export_bpf");
  }
  std::string hex;
  rewind(mem);
  static const char kDigits[] = "0123456789abcdef";
  int ch;
  while ((ch = fgetc(mem)) != EOF) {
    hex.push_back(kDigits[(ch >> 4) & 0xf]);
    hex.push_back(kDigits[ch & 0xf]);
  }
  fclose(mem);
  return hex;
}

}  // namespace jailwarden::oci
