#include "metrics/exposition.h"

#include <zlib.h>

#include <algorithm>
#include <cstdlib>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::metrics {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

// One element of an Accept or Accept-Encoding list: its value (media range
// or coding), its q (1 when absent, 0 when malformed) and its version
// parameter ("" when absent).
struct ListItem {
  std::string_view value;
  double q = 1.0;
  std::string_view version;
};

template <typename F>
void ForEachItem(std::string_view header, F&& f) {
  for (std::string_view element : Split(header, ',')) {
    std::vector<std::string_view> parts = Split(element, ';');
    ListItem item;
    item.value = Trim(parts.empty() ? std::string_view() : parts[0]);
    if (item.value.empty()) {
      continue;
    }
    for (std::size_t i = 1; i < parts.size(); ++i) {
      std::string_view param = Trim(parts[i]);
      const std::size_t eq = param.find('=');
      if (eq == std::string_view::npos) {
        continue;
      }
      std::string_view key = Trim(param.substr(0, eq));
      std::string_view val = Trim(param.substr(eq + 1));
      if (EqualsIgnoreCase(key, "q")) {
        const std::string v(val);
        char* end = nullptr;
        const double q = std::strtod(v.c_str(), &end);
        item.q = (end == v.c_str() || *end != '\0' || !(q >= 0.0) || q > 1.0) ? 0.0 : q;
      } else if (EqualsIgnoreCase(key, "version")) {
        item.version = val;
      }
    }
    f(item);
  }
}

constexpr std::string_view kUnitSuffixes[] = {"_bytes_per_second", "_ops_per_second", "_seconds",
                                              "_bytes", "_percent", "_ratio"};

}  // namespace

ExpositionFormat NegotiateFormat(std::string_view accept) {
  double om = 0.0;
  double text = 0.0;
  ForEachItem(accept, [&](const ListItem& item) {
    if (EqualsIgnoreCase(item.value, "application/openmetrics-text")) {
      if (item.version.empty() || item.version == "1.0.0") {
        om = std::max(om, item.q);
      }
    } else if (EqualsIgnoreCase(item.value, "text/plain")) {
      if (item.version.empty() || item.version == "0.0.4") {
        text = std::max(text, item.q);
      }
    } else if (item.value == "*/*" || EqualsIgnoreCase(item.value, "text/*")) {
      text = std::max(text, item.q);
    }
  });
  return om > 0.0 && om >= text ? ExpositionFormat::kOpenMetrics : ExpositionFormat::kClassic;
}

bool AcceptsGzip(std::string_view accept_encoding) {
  bool gzip = false;
  ForEachItem(accept_encoding, [&](const ListItem& item) {
    if (EqualsIgnoreCase(item.value, "gzip") || EqualsIgnoreCase(item.value, "x-gzip")) {
      gzip = item.q > 0.0;
    }
  });
  return gzip;
}

void ClassicToOpenMetrics(std::string_view classic, std::string& out) {
  out.clear();
  out.reserve(classic.size() + classic.size() / 16 + 8);
  std::string_view help_name;
  std::string_view help_text;
  bool have_help = false;
  auto flush_help = [&](std::string_view name) {
    if (!have_help) {
      return;
    }
    out.append("# HELP ").append(name).push_back(' ');
    for (char c : help_text) {
      if (c == '"') {
        out.push_back('\\');
      }
      out.push_back(c);
    }
    out.push_back('\n');
    have_help = false;
  };
  std::size_t pos = 0;
  while (pos < classic.size()) {
    std::size_t nl = classic.find('\n', pos);
    if (nl == std::string_view::npos) {
      nl = classic.size();
    }
    const std::string_view line = classic.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) {
      continue;
    }
    if (line.starts_with("# HELP ")) {
      flush_help(help_name);
      const std::string_view rest = line.substr(7);
      const std::size_t sp = rest.find(' ');
      help_name = rest.substr(0, sp);
      help_text = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
      have_help = true;
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      const std::string_view rest = line.substr(7);
      const std::size_t sp = rest.find(' ');
      std::string_view name = rest.substr(0, sp);
      std::string_view type = sp == std::string_view::npos ? "untyped" : rest.substr(sp + 1);
      std::string_view family = name;
      if (type == "counter") {
        if (name.ends_with("_total")) {
          family.remove_suffix(6);
        } else {
          type = "unknown";
        }
      } else if (type == "untyped") {
        type = "unknown";
      }
      if (have_help && help_name == name) {
        flush_help(family);
      } else {
        flush_help(help_name);
      }
      out.append("# TYPE ").append(family).push_back(' ');
      out.append(type).push_back('\n');
      for (std::string_view suffix : kUnitSuffixes) {
        if (family.ends_with(suffix)) {
          out.append("# UNIT ").append(family).push_back(' ');
          out.append(suffix.substr(1)).push_back('\n');
          break;
        }
      }
      continue;
    }
    flush_help(help_name);
    if (line.front() == '#') {
      continue;  // other comments have no place in OpenMetrics
    }
    out.append(line).push_back('\n');
  }
  flush_help(help_name);
  out.append("# EOF\n");
}

absl::Status Gzip(std::string_view in, std::string& out) {
  out.clear();
  z_stream zs{};
  // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
  if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return absl::InternalError(ToAbsl(StrCat("deflateInit2: ", zs.msg ? zs.msg : "failed")));
  }
  out.resize(deflateBound(&zs, static_cast<uLong>(in.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  const std::size_t produced = out.size() - zs.avail_out;
  const std::string msg = zs.msg ? zs.msg : "";
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) {
    out.clear();
    return absl::InternalError(ToAbsl(StrCat("deflate: rc ", rc, " ", msg)));
  }
  out.resize(produced);
  return absl::OkStatus();
}

}  // namespace jailwarden::metrics
