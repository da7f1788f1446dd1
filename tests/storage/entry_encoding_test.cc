// storage::EncodeEntry must give exactly protobuf's deterministic
// serialisation of the same v1::Entry (verifiers hash the stored bytes):
// checked against libprotobuf for random entries and edge values, and
// against a hand-derived known answer from the protobuf wire format.

#include "storage/entry_encoding.h"

#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include "core/ledger/entry.h"
#include "core/util/bytes.h"
#include "gtest/gtest.h"

namespace trialog::storage {
namespace {

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

std::string ProtobufBytes(uint64_t index, const std::string& prev, int64_t recorded_at,
                          uint64_t version, const v1::SignedEnvelope& se) {
  v1::Entry e;
  e.set_index(index);
  e.set_prev_leaf_hash(prev);
  e.set_recorded_at_unix_micros(recorded_at);
  e.set_stream_version(version);
  *e.mutable_signed_envelope() = se;
  return ledger::SerializeEntry(e);
}

TEST(EntryEncodingTest, KnownAnswerFromTheWireFormat) {
  // index 150 is the protobuf documentation's varint example (96 01);
  // field 5 = SignedEnvelope{envelope: "a"}: tag 2a, length 3, then 0a 01 61.
  v1::SignedEnvelope se;
  se.set_envelope("a");
  EXPECT_EQ(HexEncode(EncodeEntry(150, "", 0, 0, se)), "0896012a030a0161");
  // Everything zero/empty: only the (empty) signed envelope, as protobuf
  // writes a set sub-message.
  EXPECT_EQ(HexEncode(EncodeEntry(0, "", 0, 0, v1::SignedEnvelope())), "2a00");
}

TEST(EntryEncodingTest, EdgeValuesEqualProtobuf) {
  std::mt19937_64 rng(7);
  const uint64_t u64s[] = {0, 1, 127, 128, 16383, 16384, (uint64_t{1} << 35),
                           std::numeric_limits<uint64_t>::max()};
  const int64_t i64s[] = {0, 1, -1, 1'700'000'000'000'000, std::numeric_limits<int64_t>::min(),
                          std::numeric_limits<int64_t>::max()};
  const size_t lengths[] = {0, 1, 127, 128, 16383, 16384, 256 * 1024};
  int cases = 0;
  for (uint64_t index : u64s) {
    for (int64_t at : i64s) {
      for (size_t len : lengths) {
        v1::SignedEnvelope se;
        se.set_envelope(RandomBytes(rng, len));
        se.set_signature(RandomBytes(rng, len % 2 == 0 ? 64 : 0));
        const std::string prev = RandomBytes(rng, index % 2 == 0 ? 32 : 0);
        const uint64_t version = u64s[(cases++) % 8];
        ASSERT_EQ(EncodeEntry(index, prev, at, version, se),
                  ProtobufBytes(index, prev, at, version, se))
            << "index " << index << " at " << at << " len " << len << " version " << version;
      }
    }
  }
}

TEST(EntryEncodingTest, RandomEntriesEqualProtobufAndParseBack) {
  std::mt19937_64 rng(20261128);
  for (int i = 0; i < 2000; ++i) {
    const uint64_t index = rng() >> (rng() % 64);
    const int64_t at = static_cast<int64_t>(rng() >> (rng() % 64)) * ((rng() % 4 == 0) ? -1 : 1);
    const uint64_t version = rng() >> (rng() % 64);
    const std::string prev = RandomBytes(rng, 32);
    v1::SignedEnvelope se;
    se.set_envelope(RandomBytes(rng, rng() % 3000));
    se.set_signature(RandomBytes(rng, 64));
    const std::string bytes = EncodeEntry(index, prev, at, version, se);
    ASSERT_EQ(bytes, ProtobufBytes(index, prev, at, version, se)) << "case " << i;
    v1::Entry back;
    ASSERT_TRUE(back.ParseFromString(bytes));
    EXPECT_EQ(back.index(), index);
    EXPECT_EQ(back.recorded_at_unix_micros(), at);
    EXPECT_EQ(back.signed_envelope().envelope(), se.envelope());
  }
}

TEST(EntryEncodingTest, UnknownFieldsInTheSignedEnvelopeStillEqualProtobuf) {
  // A client may send fields this schema does not know; protobuf keeps and
  // re-serialises them, so the entry must too.
  v1::SignedEnvelope known;
  known.set_envelope("envelope bytes");
  known.set_signature(std::string(64, 's'));
  std::string wire = known.SerializeAsString();
  wire += std::string("\x18\x2a", 2);          // field 3, varint 42
  wire += std::string("\x22\x03xyz", 5);       // field 4, bytes "xyz"
  v1::SignedEnvelope with_unknown;
  ASSERT_TRUE(with_unknown.ParseFromString(wire));
  const std::string prev(32, 'p');
  EXPECT_EQ(EncodeEntry(9, prev, 5, 2, with_unknown), ProtobufBytes(9, prev, 5, 2, with_unknown));
  EXPECT_NE(EncodeEntry(9, prev, 5, 2, with_unknown), EncodeEntry(9, prev, 5, 2, known));
}

}  // namespace
}  // namespace trialog::storage
