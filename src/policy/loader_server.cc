// internal::Loader: the server: section (and server.throttle).

#include "jailwarden/base/strings.h"
#include "policy/loader_impl.h"

namespace jailwarden::policy::internal {

void Loader::ParseServer(const YamlNode& node, ServerConfig* server) {
  if (node.IsNull()) {
    return;
  }
  if (!ExpectMap(node, "server")) {
    return;
  }
  CheckKeys(node, Keys(kServerKeys), "server");
  bool token_file_set = false;
  const YamlNode* sample_node = nullptr;
  for (const auto& [key, value] : node.entries) {
    if (!key.IsScalar() || value.IsNull()) {
      continue;
    }
    const std::string& k = key.scalar;
    const std::string what = StrCat("server.", k);
    if (k == "listen") {
      if (auto list = GetStringList(value, what)) {
        server->listen.clear();
        for (const auto& [addr, pos] : *list) {
          if (std::optional<std::string> p = ListenProblem(addr)) {
            Error(pos, StrCat(what, ": ", Quote(addr), ": ", *p));
          } else {
            server->listen.push_back(addr);
          }
        }
      }
    } else if (k == "api_socket") {
      if (value.IsScalar() && value.scalar.empty()) {
        server->api_socket.clear();
      } else if (auto p = GetAbsolutePath(value, what)) {
        // sockaddr_un.sun_path is 104 bytes on FreeBSD (108 on Linux).
        if (p->size() >= 104) {
          Error(value.position,
                StrCat(what,
                       ": a unix socket path must be shorter than 104 "
                       "bytes, got ",
                       p->size()));
        } else {
          server->api_socket = *p;
        }
      }
    } else if (k == "state_dir") {
      if (auto p = GetAbsolutePath(value, what)) {
        while (p->size() > 1 && p->back() == '/') {
          p->pop_back();
        }
        server->state_dir = *p;
      }
    } else if (k == "backend") {
      if (auto s = GetString(value, what)) {
        if (*s == "auto") {
          server->backend = Backend::kAuto;
        } else if (*s == "linux") {
          server->backend = Backend::kLinux;
        } else if (*s == "freebsd") {
          server->backend = Backend::kFreeBsd;
        } else {
          Error(value.position, StrCat(what,
                                       ": expected auto, linux or "
                                       "freebsd, got ",
                                       Quote(*s)));
        }
      }
    } else if (k == "sample_interval") {
      sample_node = &value;
      if (auto d = GetDuration(value, what, absl::Milliseconds(1),
                               absl::Seconds(60), false)) {
        server->sample_interval = *d;
      }
    } else if (k == "slow_interval") {
      if (auto d = GetDuration(value, what, absl::Milliseconds(1),
                               absl::Hours(1), false)) {
        server->slow_interval = *d;
      }
    } else if (k == "history") {
      if (auto d = GetDuration(value, what, absl::Milliseconds(1),
                               absl::Hours(24), false)) {
        server->history = *d;
      }
    } else if (k == "log_rate_limit") {
      if (auto v = GetInt(value, what, 0, 1000000)) {
        server->log_rate_limit = *v;
      }
    } else if (k == "devctl_rate_limit") {
      if (auto v = GetInt(value, what, 0, 1000000)) {
        server->devctl_rate_limit = *v;
      }
    } else if (k == "throttle") {
      ParseThrottle(value, &server->throttle);
    } else if (k == "token_file") {
      if (auto p = GetAbsolutePath(value, what)) {
        server->token_file = *p;
        token_file_set = true;
      }
    } else if (k == "stop_removed_jails") {
      if (auto b = GetBool(value, what)) {
        server->stop_removed_jails = *b;
      }
    } else if (k == "tls") {
      if (auto b = GetBool(value, what)) server->tls = *b;
    } else if (k == "public_reads") {
      if (auto b = GetBool(value, what)) server->public_reads = *b;
    } else if (k == "web_config") {
      if (auto p = GetAbsolutePath(value, what)) server->web_config = *p;
    } else if (k == "max_connections_per_peer") {
      if (auto v = GetInt(value, what, 1, 10000)) {
        server->max_connections_per_peer = *v;
      }
    } else if (k == "max_streams_per_peer") {
      if (auto v = GetInt(value, what, 1, 1000)) server->max_streams_per_peer = *v;
    } else if (k == "request_timeout") {
      if (auto d = GetDuration(value, what, absl::Milliseconds(100),
                               absl::Hours(1), false)) {
        server->request_timeout = *d;
      }
    } else if (k == "metrics_path") {
      if (auto s = GetString(value, what)) {
        if (!StartsWith(*s, "/") ||
            s->find_first_of(" ?#") != std::string::npos) {
          Error(value.position,
                StrCat(what, ": expected a URL path starting with '/', got ",
                       Quote(*s)));
        } else {
          server->metrics_path = *s;
        }
      }
    }
  }
  if (!token_file_set) {
    server->token_file =
        StrCat(server->state_dir == "/" ? "" : server->state_dir, "/token");
  }
  // The slow tier and the history are made of sampler ticks.
  const Position at =
      sample_node != nullptr ? sample_node->position : node.position;
  if (server->slow_interval < server->sample_interval) {
    const YamlNode* slow = node.Find("slow_interval");
    Error(slow != nullptr ? slow->position : at,
          StrCat("server.slow_interval (",
                 absl::FormatDuration(server->slow_interval),
                 ") must not be shorter than server.sample_interval (",
                 absl::FormatDuration(server->sample_interval), ")"));
  }
  if (server->history < server->sample_interval) {
    const YamlNode* history = node.Find("history");
    Error(history != nullptr ? history->position : at,
          StrCat("server.history (", absl::FormatDuration(server->history),
                 ") must not be shorter than server.sample_interval (",
                 absl::FormatDuration(server->sample_interval), ")"));
  } else if (server->history / server->sample_interval > 1000000) {
    const YamlNode* history = node.Find("history");
    Error(history != nullptr ? history->position : at,
          StrCat(
              "server.history holds at most 1000000 samples; ",
              absl::FormatDuration(server->history), " at ",
              absl::FormatDuration(server->sample_interval), " is ",
              static_cast<int64_t>(server->history / server->sample_interval)));
  }
}

void Loader::ParseThrottle(const YamlNode& node, ThrottleConfig* t) {
  if (!ExpectMap(node, "server.throttle")) {
    return;
  }
  CheckKeys(node, Keys(kThrottleKeys), "server.throttle");
  const YamlNode* max_node = nullptr;
  for (const auto& [key, value] : node.entries) {
    if (!key.IsScalar() || value.IsNull()) {
      continue;
    }
    const std::string what = StrCat("server.throttle.", key.scalar);
    // kern.racct.rctl.throttle_*: min >= 1, max >= min, pct and pct2 >= 0
    // (sysctl handlers in sys/kern/kern_rctl.c; freebsd-rctl.md §10).
    constexpr int64_t kMaxU = 2147483647;
    if (key.scalar == "min") {
      if (auto v = GetInt(value, what, 1, kMaxU)) t->min = *v;
    } else if (key.scalar == "max") {
      max_node = &value;
      if (auto v = GetInt(value, what, 1, kMaxU)) t->max = *v;
    } else if (key.scalar == "pct") {
      if (auto v = GetInt(value, what, 0, kMaxU)) t->pct = *v;
    } else if (key.scalar == "pct2") {
      if (auto v = GetInt(value, what, 0, kMaxU)) t->pct2 = *v;
    }
  }
  if (t->max < t->min) {
    Error(max_node != nullptr ? max_node->position : node.position,
          StrCat("server.throttle.max (", t->max,
                 ") must not be less than server.throttle.min (", t->min,
                 "), as kern.racct.rctl.throttle_max requires"));
  }
}

}  // namespace jailwarden::policy::internal
