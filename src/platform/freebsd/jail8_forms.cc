#include "platform/freebsd/jail8_forms.h"

#include <arpa/inet.h>
#include <sys/socket.h>  // AF_INET, AF_INET6: FreeBSD's arpa/inet.h lacks them

#include <optional>

#include "absl/status/status.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::platform {

absl::StatusOr<IpSpec> ParseIp(std::string_view text, bool v6) {
  IpSpec ip;
  if (const std::size_t bar = text.find('|'); bar != std::string_view::npos) {
    ip.iface = std::string(text.substr(0, bar));
    text = text.substr(bar + 1);
  }
  if (const std::size_t slash = text.find('/'); slash != std::string_view::npos) {
    ip.mask = std::string(text.substr(slash + 1));
    text = text.substr(0, slash);
  }
  ip.addr = std::string(text);
  unsigned char buf[16];
  if (inet_pton(v6 ? AF_INET6 : AF_INET, ip.addr.c_str(), buf) != 1) {
    return absl::InvalidArgumentError(
        StrCat(v6 ? "ip6.addr" : "ip4.addr", ": not an ",
               v6 ? "IPv6" : "IPv4", " address: ", ip.addr));
  }
  if (!ip.mask.empty()) {
    const bool dotted = !v6 && ip.mask.find('.') != std::string::npos;
    const std::optional<int> len = ParseInt<int>(ip.mask);
    if (dotted ? inet_pton(AF_INET, ip.mask.c_str(), buf) != 1
               : (!len.has_value() || *len < 0 || *len > (v6 ? 128 : 32))) {
      return absl::InvalidArgumentError(
          StrCat("bad netmask '", ip.mask, "' for ", ip.addr));
    }
  }
  return ip;
}

std::vector<std::string> AliasArgv(const std::string& ifconfig,
                                   const std::string& iface, const IpSpec& ip,
                                   bool v6, bool down) {
  std::vector<std::string> argv = {ifconfig, iface, v6 ? "inet6" : "inet"};
  if (ip.mask.empty()) {
    argv.push_back(ip.addr);
    argv.push_back(v6 ? "prefixlen" : "netmask");
    argv.push_back(v6 ? "128" : "255.255.255.255");
  } else if (!v6 && ip.mask.find('.') != std::string::npos) {
    argv.push_back(ip.addr);
    argv.push_back("netmask");
    argv.push_back(ip.mask);
  } else {
    argv.push_back(StrCat(ip.addr, "/", ip.mask));
  }
  argv.push_back(down ? "-alias" : "alias");
  return argv;
}

std::string ParentName(const std::string& name) {
  const std::size_t dot = name.rfind('.');
  return dot == std::string::npos ? std::string() : name.substr(0, dot);
}

}  // namespace jailwarden::platform
