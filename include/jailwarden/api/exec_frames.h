#pragma once

// The interactive exec protocol (`jailwarden exec -i/-t`, `console`):
// frames over one connected byte stream (the upgraded HTTP connection, or
// a socketpair in tests), in both directions:
//
//   [1 byte type][4 bytes payload length, big-endian][payload]
//
// client -> daemon: stdin (bytes), stdin-eof (empty), resize (rows, cols:
//   2 bytes each, big-endian).
// daemon -> client: stdout, stderr (bytes; with a terminal all output is
//   stdout), error (UTF-8 text: why the command did not run, e.g.
//   "/nonexistent: No such file or directory"), exit (1 byte: 0 exited,
//   1 killed by a signal, 2 killed at the timeout; 4 bytes: the exit code
//   or host signal number) — always the last frame of a session that ran
//   or tried to run a command; an error frame without an exit frame means
//   the daemon refused the session.
//
// Payloads are at most kMaxFramePayload bytes; a longer length is a
// protocol error (the peer is broken or hostile), never an allocation.
// Plain functions and a value type; FrameDecoder is thread-compatible.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace jailwarden::api {

// The protocol's name in `Upgrade:` (HTTP/1.1 101 Switching Protocols).
inline constexpr char kExecProtocol[] = "jailwarden-exec.v1";

inline constexpr size_t kFrameHeaderBytes = 5;
inline constexpr size_t kMaxFramePayload = 64 * 1024;

enum class FrameType : uint8_t {
  kStdin = 1,
  kStdinEof = 2,
  kStdout = 3,
  kStderr = 4,
  kResize = 5,
  kExit = 6,
  kError = 7,
};

// The frame's name for messages ("stdin", "exit", ...).
std::string_view FrameTypeName(FrameType type);

struct Frame {
  FrameType type = FrameType::kStdout;
  std::string payload;
};

// How a session's command ended (the exit frame's payload).
struct ExitFrame {
  enum class How : uint8_t { kExited = 0, kSignaled = 1, kTimedOut = 2 };
  How how = How::kExited;
  int32_t value = 0;  // exit code, or host signal number
  // What a shell would exit with: the code, or 128 + the signal.
  int ShellStatus() const;
};

// One frame's bytes. `payload` must be at most kMaxFramePayload bytes
// (longer data is split by the caller; see AppendDataFrames).
std::string EncodeFrame(FrameType type, std::string_view payload);
// `data` as as many `type` frames as it takes, appended to `out`.
void AppendDataFrames(FrameType type, std::string_view data, std::string* out);
std::string EncodeResize(uint16_t rows, uint16_t cols);
std::string EncodeExit(const ExitFrame& exit);

// A resize frame's payload. InvalidArgument unless 4 bytes with rows and
// cols both non-zero.
absl::StatusOr<std::pair<uint16_t, uint16_t>> DecodeResize(std::string_view payload);
// An exit frame's payload. InvalidArgument unless 5 bytes with a known
// `how`.
absl::StatusOr<ExitFrame> DecodeExit(std::string_view payload);

// Splits a byte stream into frames. Feed() what was read, then call
// Next() until it returns nullopt (needs more bytes). A bad header (an
// unknown type, a length over kMaxFramePayload) is InvalidArgument naming
// the type or length and the stream offset; the decoder stays failed.
class FrameDecoder {
 public:
  void Feed(std::string_view bytes);
  absl::StatusOr<std::optional<Frame>> Next();
  // Bytes fed and not yet returned as frames.
  size_t buffered() const { return buffer_.size() - pos_; }

 private:
  std::string buffer_;
  size_t pos_ = 0;       // start of the next frame in buffer_
  uint64_t offset_ = 0;  // stream offset of buffer_[pos_]
  absl::Status failed_;
};

}  // namespace jailwarden::api
