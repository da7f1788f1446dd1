// tools/witness/protocol: the add-checkpoint wire format, checked against
// the examples of the pinned tlog-witness v1.0.0 spec text.

#include "witness/protocol.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/util/bytes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/witness/test_util.h"

namespace trialog::witness {
namespace {

using ::testing::HasSubstr;

// The indented block that follows `marker` in the spec (4-space indent
// removed, blank lines kept), as the spec's author wrote it.
std::string SpecExample(const std::string& marker) {
  const std::string spec = testing::ReadFileOrDie(
      std::string(TRIALOG_VECTORS_DIR) + "/note/spec/v1/tlog-witness_v1.0.0.md");
  size_t at = spec.find(marker);
  EXPECT_NE(at, std::string::npos) << marker;
  if (at == std::string::npos) return "";
  std::vector<std::string> lines = absl::StrSplit(spec.substr(at + marker.size()), '\n');
  std::string block;
  size_t i = 0;
  while (i < lines.size() && lines[i].empty()) ++i;  // blank line after the marker
  for (; i < lines.size(); ++i) {
    if (lines[i].rfind("    ", 0) == 0) {
      absl::StrAppend(&block, lines[i].substr(4), "\n");
    } else if (lines[i].empty() && i + 1 < lines.size() && lines[i + 1].rfind("    ", 0) == 0) {
      absl::StrAppend(&block, "\n");
    } else {
      break;
    }
  }
  return block;
}

TEST(ProtocolTest, ParsesTheSpecExampleRequest) {
  const std::string body = SpecExample("Example request body:");
  ASSERT_FALSE(body.empty());
  absl::StatusOr<AddCheckpointRequest> request = ParseAddCheckpointRequest(body);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->old_size, 20852014u);
  ASSERT_EQ(request->proof.size(), 4u);
  EXPECT_EQ(Base64Encode(request->proof[0]), "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=");
  EXPECT_EQ(Base64Encode(request->proof[3]), "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=");
  EXPECT_EQ(request->checkpoint.substr(0, 37), "example.com/behind-the-sofa\n20852163\n");
  // Two signature lines, as in the spec.
  EXPECT_EQ(request->checkpoint.back(), '\n');
  // The format function gives the spec's bytes back.
  EXPECT_EQ(FormatAddCheckpointRequest(*request), body);
}

TEST(ProtocolTest, SplitsTheSpecExampleResponse) {
  const std::string body = SpecExample("Example response body:");
  absl::StatusOr<std::vector<std::string>> lines = SplitSignatureLines(body);
  ASSERT_TRUE(lines.ok()) << lines.status();
  ASSERT_EQ(lines->size(), 3u);
  for (const std::string& line : *lines) {
    const size_t space = line.rfind(' ');
    absl::StatusOr<std::string> raw = Base64Decode(line.substr(space + 1, line.size() - space - 2));
    ASSERT_TRUE(raw.ok()) << line;
    EXPECT_EQ(raw->size(), 4u + 8u + 64u) << "a timestamped Ed25519 cosignature";
  }
  EXPECT_THAT((*lines)[2], HasSubstr("witness.example/w2"));
}

TEST(ProtocolTest, RoundTripsFromOldSizeZero) {
  AddCheckpointRequest request{0, {}, "origin\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n"
                                      "\xE2\x80\x94 origin AAAAAA==\n"};
  const std::string body = FormatAddCheckpointRequest(request);
  EXPECT_EQ(body.substr(0, 7), "old 0\n\n");
  absl::StatusOr<AddCheckpointRequest> parsed = ParseAddCheckpointRequest(body);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->old_size, 0u);
  EXPECT_TRUE(parsed->proof.empty());
  EXPECT_EQ(parsed->checkpoint, request.checkpoint);
}

TEST(ProtocolTest, RefusesMalformedRequests) {
  const std::string hash = Base64Encode(std::string(32, 'h'));
  const std::string note = "o\n1\nAAAA\n\n\xE2\x80\x94 o AAAA\n";
  struct Case {
    std::string body;
    std::string why;
  } cases[] = {
      {"", "no blank line"},
      {"old 5\n" + hash + "\n" + note, "proof line 2"},  // no blank line: note lines read as proof
      {"old 5\n\n", "no checkpoint"},
      {"new 5\n\n" + note, "first line must be"},
      {"old\n\n" + note, "first line must be"},
      {"old 05\n\n" + note, "leading zeros"},
      {"old +5\n\n" + note, "is not a decimal"},
      {"old  5\n\n" + note, "is not a decimal"},
      {"old 5 \n\n" + note, "is not a decimal"},
      {"old -1\n\n" + note, "is not a decimal"},
      {"old 18446744073709551616\n\n" + note, "below 2^64"},
      {"old 1\n" + hash.substr(0, 43) + "\n\n" + note, "proof line 1"},
      {"old 1\n" + Base64Encode(std::string(31, 'h')) + "\n\n" + note, "32-byte hash"},
      {"old 1\n" + hash + "\n" + hash + " \n\n" + note, "proof line 2"},
      {"old 1\r\n\n" + note, "is not a decimal"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<AddCheckpointRequest> r = ParseAddCheckpointRequest(c.body);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.body;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.why)) << c.body;
  }
  EXPECT_TRUE(ParseAddCheckpointRequest("old 18446744073709551615\n\n" + note).ok());
}

TEST(ProtocolTest, AcceptsAtMost63ProofLines) {
  const std::string line = Base64Encode(std::string(32, 'p')) + "\n";
  std::string proof63;
  for (int i = 0; i < 63; ++i) proof63 += line;
  const std::string tail = "\no\n1\nAAAA\n\n\xE2\x80\x94 o AAAA\n";
  absl::StatusOr<AddCheckpointRequest> ok = ParseAddCheckpointRequest("old 1\n" + proof63 + tail);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->proof.size(), 63u);
  absl::StatusOr<AddCheckpointRequest> too_many =
      ParseAddCheckpointRequest("old 1\n" + proof63 + line + tail);
  EXPECT_EQ(too_many.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(too_many.status().message()), HasSubstr("more than 63"));
}

TEST(ProtocolTest, SizeBody) {
  EXPECT_EQ(FormatSizeBody(0), "0\n");
  EXPECT_EQ(FormatSizeBody(20852163), "20852163\n");
  EXPECT_EQ(*ParseSizeBody("20852163\n"), 20852163u);
  EXPECT_EQ(*ParseSizeBody("0\n"), 0u);
  for (const char* bad : {"", "\n", "12", "012\n", "12\n\n", " 12\n", "1 2\n", "x\n"}) {
    EXPECT_EQ(ParseSizeBody(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ProtocolTest, RefusesBadSignatureLines) {
  EXPECT_FALSE(SplitSignatureLines("").ok());
  EXPECT_FALSE(SplitSignatureLines("\xE2\x80\x94 w AAAA").ok());  // no final newline
  EXPECT_FALSE(SplitSignatureLines("- w AAAA\n").ok());            // ASCII hyphen
  EXPECT_FALSE(SplitSignatureLines("\xE2\x80\x94 w AAAA\nnot a signature\n").ok());
  absl::StatusOr<std::vector<std::string>> two =
      SplitSignatureLines("\xE2\x80\x94 a AAAA\n\xE2\x80\x94 b BBBB\n");
  ASSERT_TRUE(two.ok());
  EXPECT_EQ((*two)[1], "\xE2\x80\x94 b BBBB\n");
}

TEST(ProtocolTest, HttpStatusMappingRoundTrips) {
  // The spec's codes for each refusal.
  EXPECT_EQ(HttpStatusFor(absl::OkStatus()), 200);
  EXPECT_EQ(HttpStatusFor(absl::InvalidArgumentError("x")), 400);
  EXPECT_EQ(HttpStatusFor(absl::UnauthenticatedError("x")), 403);
  EXPECT_EQ(HttpStatusFor(absl::NotFoundError("x")), 404);
  EXPECT_EQ(HttpStatusFor(ConflictError(7, "x")), 409);
  EXPECT_EQ(HttpStatusFor(absl::FailedPreconditionError("x")), 422);
  EXPECT_EQ(HttpStatusFor(absl::UnavailableError("x")), 500);
  for (int code : {400, 403, 404, 413, 422}) {
    absl::Status status = StatusFromHttp(code, "why\n");
    EXPECT_EQ(HttpStatusFor(status), code);
    EXPECT_THAT(std::string(status.message()), HasSubstr("why"));
  }
  absl::Status conflict = StatusFromHttp(409, "42\n");
  EXPECT_EQ(conflict.code(), absl::StatusCode::kAborted);
  ASSERT_TRUE(ConflictSize(conflict).has_value());
  EXPECT_EQ(*ConflictSize(conflict), 42u);
  EXPECT_EQ(StatusFromHttp(409, "forty-two\n").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusFromHttp(503, "").code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(ConflictSize(absl::AbortedError("no payload")).has_value());
}

}  // namespace
}  // namespace trialog::witness
