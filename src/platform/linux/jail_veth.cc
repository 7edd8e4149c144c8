#include "platform/linux/jail_veth.h"

#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "platform/linux/exec.h"

namespace jailwarden::platform {
namespace {

uint32_t Fnv1a(std::string_view s) {
  uint32_t h = 2166136261u;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 16777619u;
  }
  return h;
}

std::string Hex8(uint32_t v) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(8, '0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = kDigits[v & 0xf];
    v >>= 4;
  }
  return out;
}

}  // namespace

LinuxVeth LinuxVethFor(std::string_view name, int64_t init_pid) {
  return LinuxVeth{StrCat("jw", Hex8(Fnv1a(StrCat(name, ":", init_pid)))), "eth0"};
}

absl::Status AttachLinuxVeth(const std::string& ip_binary, const NetworkSpec& network,
                             const LinuxVeth& veth, int64_t init_pid,
                             const std::string& netns_path) {
  const std::string& ip = ip_binary;
  const std::string& host_if = veth.host_if;
  const std::string& jail_if = veth.jail_if;
  const std::string& netns = netns_path;
  JW_RETURN_IF_ERROR(RunHostTool({ip, "link", "add", host_if, "type", "veth", "peer", "name",
                                  jail_if, "netns", StrCat(init_pid)}));
  if (!network.host_ip4.empty()) {
    JW_RETURN_IF_ERROR(RunHostTool({ip, "addr", "add", network.host_ip4, "dev", host_if}));
  }
  JW_RETURN_IF_ERROR(RunHostTool({ip, "link", "set", host_if, "up"}));
  for (const std::string& a : network.ip4_addresses) {
    JW_RETURN_IF_ERROR(RunHostTool({ip, "addr", "add", a, "dev", jail_if}, netns));
  }
  for (const std::string& a : network.ip6_addresses) {
    JW_RETURN_IF_ERROR(RunHostTool({ip, "-6", "addr", "add", a, "dev", jail_if, "nodad"}, netns));
  }
  return RunHostTool({ip, "link", "set", jail_if, "up"}, netns);
}

}  // namespace jailwarden::platform
