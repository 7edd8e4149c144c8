// FakeFreeBsdKernel's network interface ioctls: SIOCIFCREATE2 (only the
// epair cloner), SIOCIFDESTROY, SIOCSIFNAME, SIOCSIFVNET, over the same
// interface table the ifconfig commands use.

#include <cerrno>
#include <string>
#include <vector>

#include "fakes/freebsd/fake_kernel.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::platform {

int FakeFreeBsdKernel::IfCreate(const std::string& cloner, std::string& created) {
  absl::MutexLock lock(&mu_);
  LogLocked(StrCat("if_create ", cloner));
  int fault = 0;
  if (TakeFaultLocked(Call::kIfCreate, fault)) return FailLocked(fault);
  if (cloner != "epair") return FailLocked(EINVAL);  // if_clone_create: no cloner
  const int n = next_epair_++;
  const std::string a = StrCat("epair", n, "a");
  const std::string b = StrCat("epair", n, "b");
  interfaces_[a];
  interfaces_[b];
  epair_peer_[a] = b;
  epair_peer_[b] = a;
  created = a;
  return 0;
}

int FakeFreeBsdKernel::IfDestroy(const std::string& name) {
  absl::MutexLock lock(&mu_);
  LogLocked(StrCat("if_destroy ", name));
  int fault = 0;
  if (TakeFaultLocked(Call::kIfDestroy, fault)) return FailLocked(fault);
  auto it = interfaces_.find(name);
  // Only interfaces in the caller's (the host's) vnet are visible.
  if (it == interfaces_.end() || it->second.first != 0) return FailLocked(ENXIO);
  if (auto peer = epair_peer_.find(name); peer != epair_peer_.end()) {
    interfaces_.erase(peer->second);
    epair_peer_.erase(peer->second);
    epair_peer_.erase(peer);
  } else if (!StartsWith(name, "epair")) {
    return FailLocked(EINVAL);  // not a cloned interface (em0, lo0)
  }
  interfaces_.erase(name);
  return 0;
}

int FakeFreeBsdKernel::IfRename(const std::string& name, const std::string& new_name) {
  absl::MutexLock lock(&mu_);
  LogLocked(StrCat("if_rename ", name, " ", new_name));
  int fault = 0;
  if (TakeFaultLocked(Call::kIfRename, fault)) return FailLocked(fault);
  auto it = interfaces_.find(name);
  if (it == interfaces_.end() || it->second.first != 0) return FailLocked(ENXIO);
  if (new_name.empty() || new_name.size() >= kIfNameMax) return FailLocked(EINVAL);
  if (interfaces_.contains(new_name)) return FailLocked(EEXIST);
  interfaces_[new_name] = it->second;
  interfaces_.erase(name);
  if (auto peer = epair_peer_.find(name); peer != epair_peer_.end()) {
    const std::string other = peer->second;
    epair_peer_.erase(peer);
    epair_peer_[new_name] = other;
    epair_peer_[other] = new_name;
  }
  return 0;
}

int FakeFreeBsdKernel::IfMoveToJail(const std::string& name, int jid) {
  absl::MutexLock lock(&mu_);
  LogLocked(StrCat("if_vnet ", name, " ", jid));
  int fault = 0;
  if (TakeFaultLocked(Call::kIfMoveToJail, fault)) return FailLocked(fault);
  auto it = interfaces_.find(name);
  if (it == interfaces_.end() || it->second.first != 0) return FailLocked(ENXIO);
  auto pr = prisons_.find(jid);
  if (pr == prisons_.end()) return FailLocked(ENXIO);
  if (!pr->second.vnet) return FailLocked(EEXIST);  // the same vnet as the host
  it->second.first = jid;
  return 0;
}

std::vector<std::string> FakeFreeBsdKernel::Interfaces() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [name, v] : interfaces_) out.push_back(name);
  return out;
}

}  // namespace jailwarden::platform
