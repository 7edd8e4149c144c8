#pragma once

// One request of the libmicrohttpd server (mhd_server.cc), shared by the
// MHD connection thread and the handler's thread, and the ResponseWriter
// the handler writes through. Exchange is guarded by its own mutex; an
// ExchangeWriter is used by the one handler thread.

#include <microhttpd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jailwarden/api/http.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::api::mhd_internal {

// What a stream may hold unsent before Write() waits for the client.
inline constexpr std::size_t kMaxBuffered = std::size_t{256} << 10;

struct ConnState {
  std::string peer;  // "127.0.0.1", "unix:uid=0"
  bool is_unix = false;
  long uid = -1;
  bool saw_request = false;
};

enum class Decision { kNone, kSend, kStream, kUpgrade };

// One request, shared by the connection thread and the handler thread.
struct Exchange {
  std::string raw_uri;
  HttpRequest request;
  bool head_done = false;
  std::mutex mu;
  std::condition_variable cv;
  // Guarded by mu:
  Decision decision = Decision::kNone;
  int status = 0;
  std::string content_type;
  ResponseBody body;  // kSend: moved into the MHD response, never copied
  std::vector<std::pair<std::string, std::string>> headers;
  std::string protocol;
  std::deque<std::string> chunks;
  std::size_t buffered = 0;
  bool finished = false;    // the handler ended the stream (or returned)
  bool gone = false;        // MHD is done with the request
  bool gone_error = false;  // ...without completing it
  bool upgrade_queued = false;
  std::optional<absl::StatusOr<base::UniqueFd>> upgraded;
};

using ExchangePtr = std::shared_ptr<Exchange>;

inline std::string ErrorJson(std::string_view code, std::string_view message) {
  std::string m;
  for (char c : message) {
    if (c == '"' || c == '\\') m.push_back('\\');
    m.push_back(c);
  }
  return StrCat("{\"error\":\"", m, "\",\"code\":\"", code, "\"}");
}

class ExchangeWriter final : public ResponseWriter {
 public:
  ExchangeWriter(Exchange& ex, absl::Duration io_timeout)
      : ex_(ex), io_timeout_(io_timeout) {}

  void Send(int status, std::string_view content_type, std::string_view body,
            const std::vector<std::pair<std::string, std::string>>& extra) override {
    SendOwned(status, content_type, ResponseBody(std::string(body)), extra);
  }

  void SendOwned(int status, std::string_view content_type, ResponseBody body,
                 const std::vector<std::pair<std::string, std::string>>& extra) override {
    std::lock_guard<std::mutex> lock(ex_.mu);
    if (ex_.decision != Decision::kNone) return;
    ex_.decision = Decision::kSend;
    ex_.status = status;
    ex_.content_type = std::string(content_type);
    ex_.body = std::move(body);
    ex_.headers = extra;
    ex_.cv.notify_all();
  }

  bool StartStream(int status, std::string_view content_type) override {
    std::lock_guard<std::mutex> lock(ex_.mu);
    if (ex_.decision != Decision::kNone) return false;
    ex_.decision = Decision::kStream;
    ex_.status = status;
    ex_.content_type = std::string(content_type);
    ex_.cv.notify_all();
    return !ex_.gone;
  }

  bool Write(std::string_view data) override {
    std::unique_lock<std::mutex> lock(ex_.mu);
    if (ex_.decision != Decision::kStream || ex_.finished) return false;
    // Wait for the client to take what is queued; MHD closes a connection
    // that makes no progress for io_timeout, which sets `gone`.
    while (!ex_.gone && ex_.buffered > kMaxBuffered) {
      ex_.cv.wait_for(lock, std::chrono::milliseconds(500));
    }
    if (ex_.gone) return false;
    if (data.empty()) return true;
    ex_.chunks.emplace_back(data);
    ex_.buffered += data.size();
    ex_.cv.notify_all();
    return true;
  }

  void Finish() override {
    std::lock_guard<std::mutex> lock(ex_.mu);
    ex_.finished = true;
    ex_.cv.notify_all();
  }

  absl::StatusOr<base::UniqueFd> Upgrade(
      std::string_view protocol,
      const std::vector<std::pair<std::string, std::string>>& headers) override {
    std::unique_lock<std::mutex> lock(ex_.mu);
    if (ex_.decision != Decision::kNone) {
      return absl::FailedPreconditionError("Upgrade after a response was started");
    }
    if (protocol.empty() || protocol.find_first_of("\r\n") != std::string_view::npos) {
      return absl::InvalidArgumentError("Upgrade needs a protocol token");
    }
    ex_.decision = Decision::kUpgrade;
    ex_.status = MHD_HTTP_SWITCHING_PROTOCOLS;
    ex_.protocol = std::string(protocol);
    ex_.headers = headers;
    ex_.cv.notify_all();
    const auto deadline =
        std::chrono::steady_clock::now() + absl::ToChronoMilliseconds(io_timeout_);
    while (!ex_.upgraded.has_value() &&
           !(ex_.gone && (ex_.gone_error || !ex_.upgrade_queued))) {
      if (ex_.cv.wait_until(lock, deadline) == std::cv_status::timeout) {
        return absl::DeadlineExceededError("the upgraded connection was not handed over in time");
      }
    }
    if (!ex_.upgraded.has_value()) {
      return absl::UnavailableError("the client went away before the upgrade");
    }
    absl::StatusOr<base::UniqueFd> out = std::move(*ex_.upgraded);
    ex_.upgraded.reset();
    return out;
  }

 private:
  Exchange& ex_;
  absl::Duration io_timeout_;
};

}  // namespace jailwarden::api::mhd_internal
