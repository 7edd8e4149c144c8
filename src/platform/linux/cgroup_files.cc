#include "platform/linux/cgroup_files.h"

#include <charconv>
#include <cstring>

#include "jailwarden/base/strings.h"

namespace jailwarden::platform {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Splits off the next line (without '\n') from `text`.
std::string_view NextLine(std::string_view& text) {
  std::size_t nl = text.find('\n');
  std::string_view line = text.substr(0, nl);
  text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  return line;
}

// Splits off the next white-space separated field of `line`.
std::string_view NextField(std::string_view& line) {
  std::size_t i = 0;
  while (i < line.size() && IsSpace(line[i])) {
    ++i;
  }
  std::size_t j = i;
  while (j < line.size() && !IsSpace(line[j])) {
    ++j;
  }
  std::string_view field = line.substr(i, j - i);
  line.remove_prefix(j);
  return field;
}

bool IsDevice(std::string_view field) {
  std::size_t colon = field.find(':');
  return colon != std::string_view::npos && colon > 0 &&
         ParseInt<int64_t>(field.substr(0, colon)).has_value() &&
         ParseInt<int64_t>(field.substr(colon + 1)).has_value();
}

}  // namespace

std::optional<int64_t> ParseCgroupSingleValue(std::string_view text) {
  text = StripWhitespace(text);
  if (text == "max") {
    return kCgroupUnlimited;
  }
  return ParseInt<int64_t>(text);
}

std::optional<int64_t> FindCgroupKeyedValue(std::string_view text,
                                            std::string_view key) {
  while (!text.empty()) {
    std::string_view line = NextLine(text);
    std::string_view k = NextField(line);
    if (k == key) {
      return ParseInt<int64_t>(StripWhitespace(line));
    }
  }
  return std::nullopt;
}

void FindCgroupKeyedValues(std::string_view text, const std::string_view* keys,
                           std::optional<int64_t>* out, std::size_t count) {
  std::size_t left = count;
  for (std::size_t i = 0; i < count; ++i) {
    out[i].reset();
  }
  while (!text.empty() && left > 0) {
    std::string_view line = NextLine(text);
    std::string_view k = NextField(line);
    for (std::size_t i = 0; i < count; ++i) {
      if (!out[i].has_value() && k == keys[i]) {
        out[i] = ParseInt<int64_t>(StripWhitespace(line));
        if (out[i].has_value()) {
          --left;
        }
        break;
      }
    }
  }
}

std::optional<CgroupIoTotals> ParseBlkioThrottleTotals(std::string_view text) {
  CgroupIoTotals totals;
  while (!text.empty()) {
    std::string_view line = NextLine(text);
    std::string_view dev = NextField(line);
    if (dev.empty() || dev == "Total") {
      continue;  // the file's grand total line
    }
    if (!IsDevice(dev)) {
      return std::nullopt;
    }
    std::string_view op = NextField(line);
    std::optional<int64_t> value = ParseInt<int64_t>(NextField(line));
    if (!value) {
      return std::nullopt;
    }
    if (op == "Read") {
      totals.read += *value;
    } else if (op == "Write") {
      totals.write += *value;
    }
  }
  return totals;
}

std::optional<CgroupIoStat> ParseIoStat(std::string_view text) {
  CgroupIoStat stat;
  while (!text.empty()) {
    std::string_view line = NextLine(text);
    std::string_view dev = NextField(line);
    if (dev.empty()) {
      continue;
    }
    if (!IsDevice(dev)) {
      return std::nullopt;
    }
    for (std::string_view kv = NextField(line); !kv.empty(); kv = NextField(line)) {
      std::size_t eq = kv.find('=');
      if (eq == std::string_view::npos) {
        return std::nullopt;
      }
      std::string_view key = kv.substr(0, eq);
      std::optional<int64_t> value = ParseInt<int64_t>(kv.substr(eq + 1));
      if (!value) {
        return std::nullopt;
      }
      if (key == "rbytes") {
        stat.bytes.read += *value;
      } else if (key == "wbytes") {
        stat.bytes.write += *value;
      } else if (key == "rios") {
        stat.ops.read += *value;
      } else if (key == "wios") {
        stat.ops.write += *value;
      }
      // dbytes/dios (discards) and cost.* keys are not RCTL resources.
    }
  }
  return stat;
}

std::optional<CgroupIoTotals> ParseIoStatTotals(std::string_view text, bool ops) {
  std::optional<CgroupIoStat> stat = ParseIoStat(text);
  if (!stat) {
    return std::nullopt;
  }
  return ops ? stat->ops : stat->bytes;
}

bool DevptsOptionsWithMax(std::string_view super_options, int64_t max, char* out,
                          std::size_t out_size) {
  std::size_t used = 0;
  auto append = [&](std::string_view piece) {
    if (used + piece.size() + 1 > out_size) {
      return false;
    }
    std::memcpy(out + used, piece.data(), piece.size());
    used += piece.size();
    out[used] = '\0';
    return true;
  };
  if (out_size == 0) {
    return false;
  }
  out[0] = '\0';
  bool first = true;
  std::string_view rest = super_options;
  while (!rest.empty()) {
    std::size_t comma = rest.find(',');
    std::string_view opt = rest.substr(0, comma);
    rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
    // rw/ro are mount flags, not devpts options; max= is replaced below.
    if (opt.empty() || opt == "rw" || opt == "ro" || StartsWith(opt, "max=")) {
      continue;
    }
    if ((!first && !append(",")) || !append(opt)) {
      return false;
    }
    first = false;
  }
  char num[24];
  auto [end, ec] = std::to_chars(num, num + sizeof(num), max);
  if (ec != std::errc()) {
    return false;
  }
  return (first || append(",")) && append("max=") &&
         append(std::string_view(num, static_cast<std::size_t>(end - num)));
}

std::optional<DevptsMountOptions> FindDevptsMount(std::string_view mountinfo,
                                                  std::string_view mount_point) {
  std::optional<DevptsMountOptions> found;
  while (!mountinfo.empty()) {
    std::string_view line = NextLine(mountinfo);
    std::string_view fields = line;
    NextField(fields);  // mount id
    NextField(fields);  // parent id
    NextField(fields);  // major:minor
    NextField(fields);  // root
    std::string_view point = NextField(fields);
    std::string_view mount_options = NextField(fields);
    std::size_t sep = fields.find(" - ");
    if (sep == std::string_view::npos || point != mount_point) {
      continue;
    }
    fields.remove_prefix(sep + 3);
    std::string_view fstype = NextField(fields);
    NextField(fields);  // source
    std::string_view options = NextField(fields);
    if (fstype == "devpts") {
      // The last mount at a point is the visible one.
      found = DevptsMountOptions{mount_options, options};
    }
  }
  return found;
}

std::optional<std::string_view> FindDevptsSuperOptions(std::string_view mountinfo,
                                                       std::string_view mount_point) {
  std::optional<DevptsMountOptions> m = FindDevptsMount(mountinfo, mount_point);
  if (!m) {
    return std::nullopt;
  }
  return m->super_options;
}

}  // namespace jailwarden::platform
