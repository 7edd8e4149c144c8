#include "jailwarden/engine/event_stream.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::engine {
namespace {

// The value of " jail=NAME" in a devctl line ("" if none).
std::string JailOfLine(std::string_view line) {
  for (std::string_view field : SplitWhitespace(line)) {
    if (StartsWith(field, "jail=")) return std::string(field.substr(5));
  }
  return "";
}

}  // namespace

const std::vector<std::string_view>& EventTypes() {
  static const std::vector<std::string_view> kTypes = {
      kEventCreated,   kEventStarted,    kEventStopped,        kEventDestroyed,
      kEventRestarted, kEventMainExited, kEventOomKilled,      kEventHealthChanged,
      kEventLimit,     kEventPolicyReloaded};
  return kTypes;
}

bool IsEventType(std::string_view type) {
  const std::vector<std::string_view>& all = EventTypes();
  return std::find(all.begin(), all.end(), type) != all.end();
}

std::string Rfc3339Nanos(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", t, absl::UTCTimeZone());
}

absl::Status EventStream::OpenHighWater(std::string path, uint64_t reserve_block) {
  absl::MutexLock lock(&mu_);
  // What a write killed before its rename left; the mark itself is whole.
  (void)unlink(StrCat(path, ".tmp").c_str());
  absl::StatusOr<std::string> text = ReadFile(path, 4096);
  uint64_t mark = 0;
  if (text.ok()) {
    const std::optional<uint64_t> v = ParseInt<uint64_t>(StripWhitespace(*text));
    if (!v.has_value()) {
      return absl::DataLossError(
          ToAbsl(StrCat(path, ": not an event id high-water mark: '",
                        StripWhitespace(*text).substr(0, 40), "'")));
    }
    mark = *v;
  } else if (StatusErrno(text.status()) != ENOENT) {
    return text.status();
  }
  mark_path_ = std::move(path);
  reserve_block_ = std::max<uint64_t>(reserve_block, 1);
  next_seq_ = std::max(next_seq_, mark + 1);
  reserved_ = next_seq_ - 1;
  const uint64_t want = next_seq_ - 1 + reserve_block_;
  if (absl::Status s = WriteFileAtomically(mark_path_, StrCat(want, "\n")); !s.ok()) {
    return s;
  }
  reserved_ = want;
  return absl::OkStatus();
}

void EventStream::ReserveLocked(uint64_t seq) {
  if (mark_path_.empty() || seq <= reserved_) return;
  const uint64_t want = seq - 1 + reserve_block_;
  if (absl::Status s = WriteFileAtomically(mark_path_, StrCat(want, "\n")); !s.ok()) {
    LogError("event id high-water mark not written; ids may repeat after a crash",
             {{"path", mark_path_}, {"error", std::string(s.message())}});
    return;
  }
  reserved_ = want;
}

uint64_t EventStream::Publish(std::string_view type, std::string_view jail,
                              std::vector<EventField> details) {
  Event e;
  e.type = std::string(type);
  e.jail = std::string(jail);
  e.details = std::move(details);
  return Push(std::move(e));
}

uint64_t EventStream::Append(std::string_view line) {
  Event e;
  e.type = std::string(kEventLimit);
  e.jail = JailOfLine(line);
  e.line = std::string(line);
  e.details.push_back(EventField{"line", std::string(line)});
  return Push(std::move(e));
}

uint64_t EventStream::Push(Event e) {
  absl::MutexLock lock(&mu_);
  e.seq = next_seq_++;
  ReserveLocked(e.seq);
  e.time = absl::Now();  // under the lock: ids and times ascend together
  const uint64_t seq = e.seq;
  events_.push_back(std::move(e));
  while (events_.size() > capacity_) {
    events_.pop_front();
    ++dropped_;
  }
  return seq;
}

std::vector<EventStream::Event> EventStream::Read(uint64_t after_seq,
                                                  uint64_t* dropped) const {
  absl::MutexLock lock(&mu_);
  std::vector<Event> out;
  const uint64_t first = events_.empty() ? next_seq_ : events_.front().seq;
  if (dropped != nullptr) {
    *dropped = first > after_seq + 1 ? first - after_seq - 1 : 0;
  }
  // The ring is in id order: skip to the first id after after_seq.
  auto it = std::upper_bound(events_.begin(), events_.end(), after_seq,
                             [](uint64_t s, const Event& e) { return s < e.seq; });
  for (; it != events_.end(); ++it) out.push_back(*it);
  return out;
}

bool EventStream::WaitFor(uint64_t after_seq, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto has_newer = [this, after_seq]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return next_seq_ - 1 > after_seq;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&has_newer), timeout);
}

uint64_t EventStream::last_seq() const {
  absl::MutexLock lock(&mu_);
  return next_seq_ - 1;
}

uint64_t EventStream::dropped_total() const {
  absl::MutexLock lock(&mu_);
  return dropped_;
}

}  // namespace jailwarden::engine
