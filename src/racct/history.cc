#include "jailwarden/racct/history.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>

#include "jailwarden/racct/snapshot.h"

namespace jailwarden::racct {

// A run of ticks of one jail table, or (coarse) up to kCoarseRows rows of
// maxima, each over a group of consecutive full blocks. Either way every
// "tick" (row) is the slots' deltas to the previous one in the block, the
// first against 0. The recorder writes an open block's bytes, seqs and ends
// only past what any published HistoryView covers; a sealed or coarse block
// is never written again while anything but the recorder holds it (a coarse
// block that gains or changes a row is a new copy).
struct HistoryBlock {
  std::shared_ptr<const JailTable> jails;
  std::size_t rows = 0;  // slots per tick
  bool coarse = false;
  uint32_t merged = 0;   // coarse: full blocks folded into the last row
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;  // set when sealed (readers of an open block use seqs)
  uint32_t ticks = 0;     // set when sealed; the recorder's count while open
  std::size_t size = 0;   // bytes written
  std::size_t capacity = 0;
  std::size_t tick_capacity = 0;
  std::unique_ptr<uint8_t[]> data;       // capacity bytes
  std::unique_ptr<uint64_t[]> seqs;      // by tick (coarse: a row's last tick)
  std::unique_ptr<uint64_t[]> firsts;    // coarse: by row, its first tick
  std::unique_ptr<std::size_t[]> ends;   // by tick: end offset in data
};

namespace {

constexpr std::size_t kMaxVarint = 10;  // bytes of a 64-bit varint
constexpr std::size_t kMaxSpares = 8;
// Rows per coarse block: the rows of one block are delta-coded against each
// other (a steady value costs one byte per row instead of its whole varint),
// and a block leaves the history when its newest row does, so at most
// kCoarseRows - 1 expired rows linger.
constexpr std::size_t kCoarseRows = 16;

uint8_t* PutDelta(uint8_t* p, int64_t value, int64_t prev) {
  const uint64_t d = static_cast<uint64_t>(value) - static_cast<uint64_t>(prev);
  uint64_t z = (d << 1) ^ (0 - (d >> 63));  // zigzag
  while (z >= 0x80) {
    *p++ = static_cast<uint8_t>(z | 0x80);
    z >>= 7;
  }
  *p++ = static_cast<uint8_t>(z);
  return p;
}

const uint8_t* GetDelta(const uint8_t* p, int64_t& value) {
  uint64_t z = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    const uint8_t b = *p++;
    z |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      break;
    }
  }
  const uint64_t d = (z >> 1) ^ (0 - (z & 1));
  value = static_cast<int64_t>(static_cast<uint64_t>(value) + d);
  return p;
}

// Decodes one tick (rows × 25 deltas) from `p` onto `rows`.
const uint8_t* DecodeTick(const uint8_t* p, std::span<rctl::UsageVector> rows) {
  for (rctl::UsageVector& row : rows) {
    for (int64_t& v : row) {
      p = GetDelta(p, v);
    }
  }
  return p;
}

// Per-slot maxima over every tick of full block `b` into `out`.
void BlockMaxima(const HistoryBlock& b, std::vector<rctl::UsageVector>& out,
                 std::vector<rctl::UsageVector>& scratch) {
  rctl::UsageVector lowest;
  lowest.fill(std::numeric_limits<int64_t>::min());
  out.assign(b.rows, lowest);
  scratch.assign(b.rows, rctl::UsageVector{});
  const uint8_t* p = b.data.get();
  for (uint32_t k = 0; k < b.ticks; ++k) {
    p = DecodeTick(p, scratch);
    for (std::size_t s = 0; s < b.rows; ++s) {
      for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
        out[s][r] = std::max(out[s][r], scratch[s][r]);
      }
    }
  }
}

}  // namespace

uint64_t HistoryView::oldest_seq() const {
  if (empty()) {
    return 0;
  }
  if (sealed_ != nullptr) {
    for (const auto& b : *sealed_) {
      if (b->last_seq < min_seq_) {
        continue;
      }
      if (b->coarse) {
        // The first row still in the history (rows before it expired).
        for (uint32_t k = 0; k < b->ticks; ++k) {
          if (b->seqs[k] >= min_seq_) {
            return std::max(b->firsts[k], min_seq_);
          }
        }
      }
      return std::max(b->first_seq, min_seq_);
    }
  }
  return open_ != nullptr ? std::max(open_->first_seq, min_seq_) : newest_seq_;
}

std::size_t HistoryView::ticks() const {
  return empty() ? 0 : static_cast<std::size_t>(newest_seq_ - oldest_seq() + 1);
}

std::size_t HistoryView::bytes() const {
  std::size_t n = 0;
  if (sealed_ != nullptr) {
    for (const auto& b : *sealed_) {
      n += b->size;
    }
  }
  if (open_ != nullptr && open_ticks_ > 0) {
    n += open_->ends[open_ticks_ - 1];
  }
  return n;
}

void HistoryView::ForEach(uint64_t after_seq,
                          const std::function<void(const HistoryRun&)>& fn) const {
  std::vector<rctl::UsageVector> rows;
  auto visit = [&](const HistoryBlock& b, uint32_t ticks) {
    if (ticks == 0) {
      return;
    }
    HistoryRun run;
    run.jails = b.jails.get();
    run.coarse = b.coarse;
    if (b.seqs[ticks - 1] <= after_seq || b.seqs[ticks - 1] < min_seq_) {
      return;
    }
    rows.assign(b.rows, rctl::UsageVector{});
    const uint8_t* p = b.data.get();
    for (uint32_t k = 0; k < ticks; ++k) {
      p = DecodeTick(p, rows);
      const uint64_t seq = b.seqs[k];
      if (seq <= after_seq || seq < min_seq_) {
        continue;
      }
      run.first_seq = b.coarse ? b.firsts[k] : seq;
      run.last_seq = seq;
      run.rows = rows;
      fn(run);
    }
  };
  if (sealed_ != nullptr) {
    for (const auto& b : *sealed_) {
      visit(*b, b->ticks);
    }
  }
  if (open_ != nullptr) {
    visit(*open_, open_ticks_);
  }
}

HistoryRecorder::HistoryRecorder(HistoryOptions options) : options_(options) {
  options_.ticks = std::max<std::size_t>(options_.ticks, 1);
  options_.block_ticks = std::max<std::size_t>(options_.block_ticks, 1);
  options_.full_ticks = std::max(options_.full_ticks, options_.block_ticks);
  options_.max_coarse_blocks = std::max<std::size_t>(options_.max_coarse_blocks, 1);
  if (options_.ticks > options_.full_ticks) {
    const std::size_t coarse_ticks = options_.ticks - options_.full_ticks;
    const std::size_t blocks =
        (coarse_ticks + options_.block_ticks - 1) / options_.block_ticks;
    group_blocks_ = std::max<std::size_t>(
        1, (blocks + options_.max_coarse_blocks - 1) / options_.max_coarse_blocks);
  }
}

HistoryRecorder::~HistoryRecorder() = default;

std::shared_ptr<HistoryBlock> HistoryRecorder::TakeBlock(std::size_t capacity,
                                                         std::size_t ticks) {
  capacity = std::max<std::size_t>(capacity, 1);
  ticks = std::max<std::size_t>(ticks, 1);
  std::shared_ptr<HistoryBlock> b;
  for (auto it = spare_.begin(); it != spare_.end(); ++it) {
    // Only a buffer no published view holds, and not much larger than
    // needed (its touched pages stay resident).
    if (it->use_count() == 1 && (*it)->capacity >= capacity &&
        (*it)->capacity <= 2 * capacity + 4096 && (*it)->tick_capacity >= ticks) {
      b = std::move(*it);
      spare_.erase(it);
      // Readers released it with an atomic decrement (release); see their
      // reads before writing.
      std::atomic_thread_fence(std::memory_order_acquire);
      break;
    }
  }
  if (b == nullptr) {
    b = std::make_shared<HistoryBlock>();
    b->capacity = capacity;
    b->data.reset(new uint8_t[capacity]);
    b->tick_capacity = ticks;
    b->seqs.reset(new uint64_t[ticks]);
    b->firsts.reset(new uint64_t[ticks]);
    b->ends.reset(new std::size_t[ticks]);
  }
  b->jails = nullptr;
  b->rows = 0;
  b->coarse = false;
  b->merged = 0;
  b->first_seq = b->last_seq = 0;
  b->ticks = 0;
  b->size = 0;
  return b;
}

void HistoryRecorder::Append(const TickData& tick) {
  const std::size_t n = tick.usage.size();
  // The most one tick can take; a block ends early (fewer ticks) rather
  // than overflow its buffer.
  const std::size_t worst = n * rctl::kResourceCount * kMaxVarint;
  if (open_ != nullptr &&
      (open_->jails != tick.jails || open_->rows != n ||
       open_->ticks == options_.block_ticks || open_->capacity - open_->size < worst)) {
    Seal();
  }
  if (open_ == nullptr) {
    // Room for one worst-case tick plus the rest at a quarter more than the
    // largest tick of the previous block (varints of small deltas: a quiet
    // jail's tick is 25-40 bytes, the worst case 250). The first block of a
    // table gets the worst case throughout.
    const std::size_t typical =
        tick_bytes_ > 0 && tick_rows_ == n ? std::min(worst, tick_bytes_ + tick_bytes_ / 4) : worst;
    const std::size_t need = worst + (options_.block_ticks - 1) * typical;
    // A previous open buffer no view holds any more: the one sealed just
    // now (open_spare_) is still in the latest snapshot, the one before
    // (moved to spare_) is usually free by now.
    auto fits = [need](const HistoryBlock& b) {
      return b.capacity >= need && b.capacity <= 2 * need + 4096;
    };
    if (open_spare_ != nullptr && open_spare_.use_count() == 1 && fits(*open_spare_) &&
        open_spare_->tick_capacity >= options_.block_ticks) {
      open_ = std::move(open_spare_);
      std::atomic_thread_fence(std::memory_order_acquire);
      open_->ticks = 0;
      open_->size = 0;
    }
    for (auto it = spare_.begin(); open_ == nullptr && it != spare_.end(); ++it) {
      if (it->use_count() == 1 && fits(**it) &&
          (*it)->tick_capacity >= options_.block_ticks) {
        open_ = std::move(*it);
        spare_.erase(it);
        std::atomic_thread_fence(std::memory_order_acquire);
        open_->ticks = 0;
        open_->size = 0;
        break;
      }
    }
    if (open_ == nullptr) {
      open_ = std::make_shared<HistoryBlock>();
      open_->capacity = std::max<std::size_t>(need, 1);
      // Not value-initialised: only the bytes written get paged in.
      open_->data.reset(new uint8_t[open_->capacity]);
      open_->tick_capacity = options_.block_ticks;
      open_->seqs.reset(new uint64_t[options_.block_ticks]);
      open_->firsts.reset(new uint64_t[options_.block_ticks]);
      open_->ends.reset(new std::size_t[options_.block_ticks]);
    }
    open_->jails = tick.jails;
    open_->rows = n;
    open_->coarse = false;
    open_->first_seq = tick.seq;
    prev_.assign(n, rctl::UsageVector{});
  }
  uint8_t* const start = open_->data.get() + open_->size;
  uint8_t* p = start;
  for (std::size_t s = 0; s < n; ++s) {
    for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
      p = PutDelta(p, tick.usage[s][r], prev_[s][r]);
    }
    prev_[s] = tick.usage[s];
  }
  open_->size += static_cast<std::size_t>(p - start);
  open_->seqs[open_->ticks] = tick.seq;
  open_->ends[open_->ticks] = open_->size;
  ++open_->ticks;
  view_.open_ = open_;
  view_.open_ticks_ = open_->ticks;
  view_.newest_seq_ = tick.seq;
  view_.min_seq_ = tick.seq >= options_.ticks ? tick.seq - options_.ticks + 1 : 1;
}

void HistoryRecorder::Seal() {
  HistoryBlock& open = *open_;
  // The largest tick of this block sizes the next open buffer.
  tick_rows_ = open.rows;
  tick_bytes_ = 0;
  for (uint32_t k = 0; k < open.ticks; ++k) {
    tick_bytes_ = std::max(tick_bytes_, open.ends[k] - (k > 0 ? open.ends[k - 1] : 0));
  }
  // The sealed copy: exactly the bytes written.
  std::shared_ptr<HistoryBlock> sealed = TakeBlock(open.size, open.ticks);
  sealed->jails = open.jails;
  sealed->rows = open.rows;
  sealed->first_seq = open.first_seq;
  sealed->last_seq = open.seqs[open.ticks - 1];
  sealed->ticks = open.ticks;
  sealed->size = open.size;
  std::memcpy(sealed->data.get(), open.data.get(), open.size);
  std::copy(open.seqs.get(), open.seqs.get() + open.ticks, sealed->seqs.get());
  std::copy(open.ends.get(), open.ends.get() + open.ticks, sealed->ends.get());
  if (open_spare_ != nullptr) {
    // The open buffer before this one: kept first among the spares.
    spare_.insert(spare_.begin(), std::move(open_spare_));
    if (spare_.size() > kMaxSpares) {
      spare_.pop_back();
    }
  }
  open_spare_ = std::move(open_);
  view_.open_ = nullptr;
  view_.open_ticks_ = 0;

  // The new block list (reusing the previous list's buffer if no view holds it).
  std::shared_ptr<HistoryView::BlockList> list;
  if (list_spare_ != nullptr && list_spare_.use_count() == 1) {
    list = std::move(list_spare_);
    std::atomic_thread_fence(std::memory_order_acquire);
    list->clear();
  } else {
    list = std::make_shared<HistoryView::BlockList>();
  }
  const uint64_t newest = view_.newest_seq_;
  const uint64_t min_seq = view_.min_seq_;
  auto retire = [&](const std::shared_ptr<const HistoryBlock>& b) {
    if (spare_.size() < kMaxSpares) {
      spare_.push_back(std::const_pointer_cast<HistoryBlock>(b));
    }
  };
  auto fold = [&](const std::shared_ptr<const HistoryBlock>& b) {
    // Fold full block `b` (out of the full-rate window) into the last row of
    // the last coarse block of `list` (while that row covers fewer than
    // group_blocks_ blocks), as a new row of it (while it has fewer than
    // kCoarseRows), or into a new coarse block. A changed block is a copy.
    BlockMaxima(*b, max_a_, max_b_);
    std::shared_ptr<const HistoryBlock> last = list->empty() ? nullptr : list->back();
    if (last != nullptr && !(last->coarse && last->jails == b->jails && last->rows == b->rows)) {
      last = nullptr;
    }
    const bool merge = last != nullptr && last->merged < group_blocks_;
    if (last != nullptr && !merge && last->ticks >= kCoarseRows) {
      last = nullptr;
    }
    // Kept rows of `last` (all, or all but the merged one) and the one the
    // new row is coded against (max_c_; zeros when none).
    uint32_t kept = 0;
    max_c_.assign(b->rows, rctl::UsageVector{});
    if (last != nullptr) {
      kept = merge ? last->ticks - 1 : last->ticks;
      max_b_.assign(b->rows, rctl::UsageVector{});
      const uint8_t* q = last->data.get();
      for (uint32_t k = 0; k < last->ticks; ++k) {
        if (k == kept) {
          max_c_ = max_b_;  // the row before the merged one
        }
        q = DecodeTick(q, max_b_);
      }
      if (!merge) {
        max_c_ = max_b_;
      } else {
        for (std::size_t s = 0; s < b->rows; ++s) {
          for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
            max_a_[s][r] = std::max(max_a_[s][r], max_b_[s][r]);
          }
        }
      }
    }
    const std::size_t kept_bytes = kept > 0 ? last->ends[kept - 1] : 0;
    std::size_t bytes = 0;
    uint8_t tmp[kMaxVarint];
    for (std::size_t s = 0; s < b->rows; ++s) {
      for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
        bytes += static_cast<std::size_t>(PutDelta(tmp, max_a_[s][r], max_c_[s][r]) - tmp);
      }
    }
    std::shared_ptr<HistoryBlock> c = TakeBlock(kept_bytes + bytes, kept + 1);
    c->jails = b->jails;
    c->rows = b->rows;
    c->coarse = true;
    c->merged = merge ? last->merged + 1 : 1;
    c->first_seq = last != nullptr ? last->first_seq : b->first_seq;
    c->last_seq = b->last_seq;
    c->ticks = kept + 1;
    if (kept > 0) {
      std::memcpy(c->data.get(), last->data.get(), kept_bytes);
      std::copy(last->seqs.get(), last->seqs.get() + kept, c->seqs.get());
      std::copy(last->firsts.get(), last->firsts.get() + kept, c->firsts.get());
      std::copy(last->ends.get(), last->ends.get() + kept, c->ends.get());
    }
    uint8_t* p = c->data.get() + kept_bytes;
    for (std::size_t s = 0; s < b->rows; ++s) {
      for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
        p = PutDelta(p, max_a_[s][r], max_c_[s][r]);
      }
    }
    c->size = static_cast<std::size_t>(p - c->data.get());
    c->seqs[kept] = b->last_seq;
    c->firsts[kept] = merge ? last->firsts[kept] : b->first_seq;
    c->ends[kept] = c->size;
    if (last != nullptr) {
      list->pop_back();
      retire(last);
    }
    list->push_back(std::move(c));
    retire(b);
  };
  std::shared_ptr<const HistoryView::BlockList> old = view_.sealed_;
  auto consider = [&](const std::shared_ptr<const HistoryBlock>& b) {
    if (b->last_seq < min_seq) {
      retire(b);  // every tick of it left the history
    } else if (!b->coarse && b->last_seq + options_.full_ticks <= newest) {
      fold(b);
    } else {
      list->push_back(b);
    }
  };
  if (old != nullptr) {
    for (const auto& b : *old) {
      consider(b);
    }
  }
  consider(sealed);
  list_spare_ = std::const_pointer_cast<HistoryView::BlockList>(std::move(view_.sealed_));
  view_.sealed_ = std::move(list);
}

}  // namespace jailwarden::racct
