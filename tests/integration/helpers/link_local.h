#pragma once

// A free link-local /30 for the vnet integration tests (jail_net_test.cc,
// jail_command_test.cc): chosen only after reading the host's routes (every
// table) and addresses, so no test ever shadows a host route.

#include <unistd.h>

#include <cstdint>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "helpers/jail_env.h"

namespace jailwarden::testing {

inline uint32_t ParseIp(const std::string& s) {
  unsigned a, b, c, d;
  if (sscanf(s.c_str(), "%u.%u.%u.%u", &a, &b, &c, &d) != 4) return 0;
  return (a << 24) | (b << 16) | (c << 8) | d;
}

// A 169.254.N.0/30 that overlaps no route (any table) and no address of
// the host; "" if none is free.
inline std::string PickLinkLocalSubnet() {
  std::string text = HostShell("ip -4 route show table all; ip -4 -o addr").out;
  std::vector<std::pair<uint32_t, uint32_t>> used;  // network, mask
  std::regex cidr(R"((\d+\.\d+\.\d+\.\d+)(/(\d+))?)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), cidr);
       it != std::sregex_iterator(); ++it) {
    uint32_t ip = ParseIp((*it)[1]);
    int len = (*it)[3].matched ? std::stoi((*it)[3]) : 32;
    if (len == 0) continue;  // the default route covers everything; not a conflict
    uint32_t mask = len >= 32 ? 0xffffffffu : ~((1u << (32 - len)) - 1);
    used.push_back({ip & mask, mask});
  }
  for (int n = 200 + getpid() % 50; n > 100; --n) {
    uint32_t net = (169u << 24) | (254u << 16) | (static_cast<uint32_t>(n) << 8);
    bool clash = false;
    for (auto [unet, umask] : used) {
      uint32_t m = umask & 0xfffffffcu;  // the wider of the two masks
      if ((net & m) == (unet & m)) clash = true;
    }
    if (!clash) return "169.254." + std::to_string(n) + ".";
  }
  return "";
}

}  // namespace jailwarden::testing
