// The interactive exec protocol's frames (api/exec_frames.h).

#include "jailwarden/api/exec_frames.h"

#include <string>

#include "gtest/gtest.h"

namespace jailwarden::api {
namespace {

TEST(ExecFramesTest, EncodesTypeBigEndianLengthAndPayload) {
  const std::string f = EncodeFrame(FrameType::kStdout, "abc");
  ASSERT_EQ(f.size(), 8u);
  EXPECT_EQ(f[0], 3);
  EXPECT_EQ(f.substr(1, 4), std::string("\0\0\0\3", 4));
  EXPECT_EQ(f.substr(5), "abc");
}

TEST(ExecFramesTest, DecoderReassemblesFramesFedOneByteAtATime) {
  std::string stream = EncodeFrame(FrameType::kStdin, "hello") +
                       EncodeFrame(FrameType::kStdinEof, "") + EncodeResize(40, 132) +
                       EncodeExit({ExitFrame::How::kSignaled, 9});
  FrameDecoder d;
  std::vector<Frame> got;
  for (char c : stream) {
    d.Feed(std::string_view(&c, 1));
    for (;;) {
      absl::StatusOr<std::optional<Frame>> f = d.Next();
      ASSERT_TRUE(f.ok()) << f.status();
      if (!f->has_value()) break;
      got.push_back(**f);
    }
  }
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].type, FrameType::kStdin);
  EXPECT_EQ(got[0].payload, "hello");
  EXPECT_EQ(got[1].type, FrameType::kStdinEof);
  EXPECT_EQ(got[1].payload, "");
  auto size = DecodeResize(got[2].payload);
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(size->first, 40);
  EXPECT_EQ(size->second, 132);
  auto exit = DecodeExit(got[3].payload);
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->how, ExitFrame::How::kSignaled);
  EXPECT_EQ(exit->value, 9);
  EXPECT_EQ(exit->ShellStatus(), 137);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(ExecFramesTest, LongDataIsSplitIntoBoundedFrames) {
  std::string out;
  AppendDataFrames(FrameType::kStdout, std::string(kMaxFramePayload * 2 + 7, 'x'), &out);
  FrameDecoder d;
  d.Feed(out);
  size_t total = 0, frames = 0;
  for (;;) {
    auto f = d.Next();
    ASSERT_TRUE(f.ok());
    if (!f->has_value()) break;
    EXPECT_LE((*f)->payload.size(), kMaxFramePayload);
    total += (*f)->payload.size();
    ++frames;
  }
  EXPECT_EQ(total, kMaxFramePayload * 2 + 7);
  EXPECT_EQ(frames, 3u);
}

TEST(ExecFramesTest, OverLongLengthIsRefusedBeforeItsPayloadArrives) {
  FrameDecoder d;
  d.Feed(EncodeFrame(FrameType::kStdin, "ok"));
  d.Feed(std::string("\x01\xff\xff\xff\xff", 5));
  auto first = d.Next();
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(first->has_value());
  auto bad = d.Next();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(),
            "exec stream: stdin frame of 4294967295 bytes at byte 7, over the 65536-byte bound");
  // Stays failed.
  d.Feed(EncodeFrame(FrameType::kStdin, "more"));
  EXPECT_FALSE(d.Next().ok());
}

TEST(ExecFramesTest, UnknownTypeIsRefusedWithItsOffset) {
  FrameDecoder d;
  d.Feed(std::string("\x09\0\0\0\0", 5));
  auto bad = d.Next();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "exec stream: unknown frame type 9 at byte 0");
}

TEST(ExecFramesTest, ResizeAndExitPayloadsAreChecked) {
  EXPECT_EQ(DecodeResize("abc").status().message(),
            "resize frame: payload of 3 bytes, want 4 (rows, cols)");
  EXPECT_EQ(DecodeResize(std::string("\0\0\0\x50", 4)).status().message(),
            "resize frame: 0 rows x 80 cols; both must be at least 1");
  EXPECT_EQ(DecodeExit(std::string("\x07\0\0\0\0", 5)).status().message(),
            "exit frame: unknown kind 7");
  EXPECT_FALSE(DecodeExit("").ok());
}

}  // namespace
}  // namespace jailwarden::api
