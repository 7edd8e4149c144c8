#include "jailwarden/engine/event_stream.h"

namespace jailwarden::engine {

uint64_t EventStream::Append(std::string_view line) {
  absl::MutexLock lock(&mu_);
  const uint64_t seq = next_seq_++;
  events_.push_back(Event{seq, std::string(line)});
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
  for (const Event& e : events_) {
    if (e.seq > after_seq) {
      out.push_back(e);
    }
  }
  return out;
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
