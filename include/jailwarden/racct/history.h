#pragma once

// The sampler's usage history, kept compactly: what Snapshot::history
// holds and PeaksSince reads (the only query: per-jail maxima over a run of
// ticks).
//
// Layout. Ticks are grouped into blocks of HistoryOptions::block_ticks
// consecutive ticks of one jail table (a new table starts a new block; a
// block also ends early when its buffer could not hold a worst-case tick).
// Within a block each tick is every slot's 25 values as zigzag varints of
// the difference to the same value in the block's previous tick (the first
// tick against 0): a value that did not change costs one byte, so an idle
// jail costs about 25–40 bytes per tick instead of the 237 bytes of a
// TickData row. Tiers: the newest HistoryOptions::full_ticks ticks are kept
// at full rate; older blocks are folded into coarse rows of per-slot maxima
// over a group of blocks (at most max_coarse_blocks rows over the whole
// history). Coarse rows are kept up to 16 to a block, delta-coded against
// the block's previous row like ticks, so a steady value costs one byte per
// row rather than its whole varint.
//
// Memory per jail (10 Hz, 60 s history, the defaults): 100 full-rate ticks
// × ≈ 30 B + 50 coarse rows × ≈ 30–40 B ≈ 5 KB, against 600 × 237 B =
// 142 KB before. The open block's buffer is sized from the previous block's
// largest tick. HistoryView::bytes() reports what a view holds.
//
// Thread-safety: HistoryRecorder is used by one thread (the sampler's).
// A HistoryView is an immutable value (two shared_ptrs and counters): any
// number of threads may read copies of it while the recorder appends,
// because the recorder only writes bytes past what any published view
// covers and never changes a block a view can see otherwise.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "jailwarden/rctl/resource.h"

namespace jailwarden::racct {

struct JailTable;
struct TickData;
struct HistoryBlock;  // history.cc

struct HistoryOptions {
  std::size_t ticks = 1;          // ticks covered, the newest included; >= 1
  std::size_t block_ticks = 10;   // ticks per block; >= 1
  std::size_t full_ticks = 100;   // newest ticks at full rate (at least one block)
  std::size_t max_coarse_blocks = 64;  // bound on coarse rows per jail; >= 1
};

// One stretch of history handed to HistoryView::ForEach: a single tick at
// full rate (first_seq == last_seq, coarse == false), or a coarse block's
// per-slot maxima over the ticks first_seq..last_seq.
struct HistoryRun {
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  bool coarse = false;
  const JailTable* jails = nullptr;              // slots of `rows`
  std::span<const rctl::UsageVector> rows;       // by slot
};

// What one snapshot sees of the history. Cheap to copy (no allocation).
class HistoryView {
 public:
  bool empty() const { return newest_seq_ == 0; }
  // Oldest tick still covered (a coarse block may reach further back, see
  // ForEach), newest tick; 0 when empty.
  uint64_t oldest_seq() const;
  uint64_t newest_seq() const { return newest_seq_; }
  // Ticks covered: newest_seq() - oldest_seq() + 1, 0 when empty.
  std::size_t ticks() const;
  // Bytes of usage data the view's blocks hold (their buffers, not the
  // shared JailTables).
  std::size_t bytes() const;
  // Calls `fn` for the stretches that hold a tick with seq > after_seq,
  // oldest first. A coarse block is passed whole, so its maxima may include
  // ticks at or before after_seq (only when after_seq is older than the
  // full-rate window). `rows` is valid during the call only. Allocates the
  // decoding buffer (one row per slot).
  void ForEach(uint64_t after_seq, const std::function<void(const HistoryRun&)>& fn) const;

 private:
  friend class HistoryRecorder;
  using BlockList = std::vector<std::shared_ptr<const HistoryBlock>>;
  std::shared_ptr<const BlockList> sealed_;   // oldest first
  std::shared_ptr<const HistoryBlock> open_;  // may be null
  uint32_t open_ticks_ = 0;                   // ticks of open_ this view sees
  uint64_t min_seq_ = 0;                      // full-rate ticks before it are gone
  uint64_t newest_seq_ = 0;
};

// Writes the history; the sampler's (or a test builder's) side.
class HistoryRecorder {
 public:
  explicit HistoryRecorder(HistoryOptions options);
  ~HistoryRecorder();
  HistoryRecorder(const HistoryRecorder&) = delete;
  HistoryRecorder& operator=(const HistoryRecorder&) = delete;

  // Appends `tick` (its seq greater than the previous one's; its usage has
  // one row per slot of tick.jails). Allocates only when a block is sealed
  // (once per block_ticks ticks) or the jail table grows, and then reuses
  // buffers no reader holds.
  void Append(const TickData& tick);
  // The history up to the last Append.
  const HistoryView& view() const { return view_; }
  const HistoryOptions& options() const { return options_; }

 private:
  void Seal();
  std::shared_ptr<HistoryBlock> TakeBlock(std::size_t capacity, std::size_t rows);

  HistoryOptions options_;
  std::size_t group_blocks_ = 1;  // full blocks per coarse block
  HistoryView view_;
  std::shared_ptr<HistoryBlock> open_;
  std::shared_ptr<HistoryBlock> open_spare_;  // the previous open buffer
  std::shared_ptr<HistoryView::BlockList> list_spare_;  // the previous list
  std::vector<rctl::UsageVector> prev_;  // open block's previous tick, by slot
  std::vector<std::shared_ptr<HistoryBlock>> spare_;  // buffers to reuse
  std::vector<rctl::UsageVector> max_a_, max_b_, max_c_;  // folding scratch
  // Bytes of the largest tick of the last sealed block, and its slots.
  std::size_t tick_bytes_ = 0;
  std::size_t tick_rows_ = 0;
};

}  // namespace jailwarden::racct
