// The interactive exec protocol's frames (exec_frames.h).

#include "jailwarden/api/exec_frames.h"

#include <algorithm>

#include "jailwarden/base/strings.h"

namespace jailwarden::api {
namespace {

void PutU32(uint32_t v, std::string* out) {
  out->push_back(static_cast<char>(v >> 24));
  out->push_back(static_cast<char>(v >> 16));
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v));
}

uint32_t GetU32(std::string_view s) {
  return static_cast<uint32_t>(static_cast<uint8_t>(s[0])) << 24 |
         static_cast<uint32_t>(static_cast<uint8_t>(s[1])) << 16 |
         static_cast<uint32_t>(static_cast<uint8_t>(s[2])) << 8 |
         static_cast<uint32_t>(static_cast<uint8_t>(s[3]));
}

uint16_t GetU16(std::string_view s) {
  return static_cast<uint16_t>(static_cast<uint8_t>(s[0]) << 8 | static_cast<uint8_t>(s[1]));
}

bool KnownType(uint8_t t) {
  return t >= static_cast<uint8_t>(FrameType::kStdin) &&
         t <= static_cast<uint8_t>(FrameType::kError);
}

}  // namespace

std::string_view FrameTypeName(FrameType type) {
  switch (type) {
    case FrameType::kStdin:
      return "stdin";
    case FrameType::kStdinEof:
      return "stdin-eof";
    case FrameType::kStdout:
      return "stdout";
    case FrameType::kStderr:
      return "stderr";
    case FrameType::kResize:
      return "resize";
    case FrameType::kExit:
      return "exit";
    case FrameType::kError:
      return "error";
  }
  return "unknown";
}

int ExitFrame::ShellStatus() const {
  return how == How::kExited ? value : 128 + value;
}

std::string EncodeFrame(FrameType type, std::string_view payload) {
  std::string out;
  out.reserve(kFrameHeaderBytes + payload.size());
  out.push_back(static_cast<char>(type));
  PutU32(static_cast<uint32_t>(payload.size()), &out);
  out.append(payload);
  return out;
}

void AppendDataFrames(FrameType type, std::string_view data, std::string* out) {
  while (!data.empty()) {
    const size_t n = std::min(data.size(), kMaxFramePayload);
    out->append(EncodeFrame(type, data.substr(0, n)));
    data.remove_prefix(n);
  }
}

std::string EncodeResize(uint16_t rows, uint16_t cols) {
  const char p[4] = {static_cast<char>(rows >> 8), static_cast<char>(rows),
                     static_cast<char>(cols >> 8), static_cast<char>(cols)};
  return EncodeFrame(FrameType::kResize, std::string_view(p, sizeof(p)));
}

std::string EncodeExit(const ExitFrame& exit) {
  std::string p;
  p.push_back(static_cast<char>(exit.how));
  PutU32(static_cast<uint32_t>(exit.value), &p);
  return EncodeFrame(FrameType::kExit, p);
}

absl::StatusOr<std::pair<uint16_t, uint16_t>> DecodeResize(std::string_view payload) {
  if (payload.size() != 4) {
    return absl::InvalidArgumentError(
        StrCat("resize frame: payload of ", payload.size(), " bytes, want 4 (rows, cols)"));
  }
  const uint16_t rows = GetU16(payload), cols = GetU16(payload.substr(2));
  if (rows == 0 || cols == 0) {
    return absl::InvalidArgumentError(
        StrCat("resize frame: ", rows, " rows x ", cols, " cols; both must be at least 1"));
  }
  return std::make_pair(rows, cols);
}

absl::StatusOr<ExitFrame> DecodeExit(std::string_view payload) {
  if (payload.size() != 5) {
    return absl::InvalidArgumentError(
        StrCat("exit frame: payload of ", payload.size(), " bytes, want 5"));
  }
  const uint8_t how = static_cast<uint8_t>(payload[0]);
  if (how > static_cast<uint8_t>(ExitFrame::How::kTimedOut)) {
    return absl::InvalidArgumentError(StrCat("exit frame: unknown kind ", how));
  }
  ExitFrame e;
  e.how = static_cast<ExitFrame::How>(how);
  e.value = static_cast<int32_t>(GetU32(payload.substr(1)));
  return e;
}

void FrameDecoder::Feed(std::string_view bytes) {
  if (pos_ > 0 && pos_ == buffer_.size()) {
    buffer_.clear();
    pos_ = 0;
  } else if (pos_ > kMaxFramePayload) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  buffer_.append(bytes);
}

absl::StatusOr<std::optional<Frame>> FrameDecoder::Next() {
  if (!failed_.ok()) {
    return failed_;
  }
  std::string_view rest = std::string_view(buffer_).substr(pos_);
  if (rest.size() < kFrameHeaderBytes) {
    return std::nullopt;
  }
  const uint8_t type = static_cast<uint8_t>(rest[0]);
  const uint32_t len = GetU32(rest.substr(1));
  if (!KnownType(type)) {
    failed_ = absl::InvalidArgumentError(
        StrCat("exec stream: unknown frame type ", static_cast<int>(type), " at byte ", offset_));
    return failed_;
  }
  if (len > kMaxFramePayload) {
    failed_ = absl::InvalidArgumentError(
        StrCat("exec stream: ", FrameTypeName(static_cast<FrameType>(type)), " frame of ", len,
               " bytes at byte ", offset_, ", over the ", kMaxFramePayload, "-byte bound"));
    return failed_;
  }
  if (rest.size() < kFrameHeaderBytes + len) {
    return std::nullopt;
  }
  Frame f;
  f.type = static_cast<FrameType>(type);
  f.payload = std::string(rest.substr(kFrameHeaderBytes, len));
  pos_ += kFrameHeaderBytes + len;
  offset_ += kFrameHeaderBytes + len;
  return f;
}

}  // namespace jailwarden::api
