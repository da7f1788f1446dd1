#include "storage/entry_encoding.h"

#include <cstring>

#include "core/ledger/entry.h"
#include "google/protobuf/io/coded_stream.h"

namespace trialog::storage {
namespace {

using google::protobuf::io::CodedOutputStream;

// Wire tags: (field number << 3) | wire type (0 varint, 2 length-delimited).
constexpr uint8_t kTagIndex = (1 << 3) | 0;
constexpr uint8_t kTagPrevLeafHash = (2 << 3) | 2;
constexpr uint8_t kTagRecordedAt = (3 << 3) | 0;
constexpr uint8_t kTagStreamVersion = (4 << 3) | 0;
constexpr uint8_t kTagSignedEnvelope = (5 << 3) | 2;
constexpr uint8_t kTagEnvelope = (1 << 3) | 2;     // in SignedEnvelope
constexpr uint8_t kTagSignature = (2 << 3) | 2;    // in SignedEnvelope

size_t VarintSize(uint64_t v) { return CodedOutputStream::VarintSize64(v); }

// Size of a length-delimited field with a one-byte tag; 0 when omitted.
size_t BytesFieldSize(size_t n) { return n == 0 ? 0 : 1 + VarintSize(n) + n; }

uint8_t* PutVarint(uint64_t v, uint8_t* p) { return CodedOutputStream::WriteVarint64ToArray(v, p); }

uint8_t* PutBytesField(uint8_t tag, absl::string_view bytes, uint8_t* p) {
  if (bytes.empty()) return p;
  *p++ = tag;
  p = PutVarint(bytes.size(), p);
  std::memcpy(p, bytes.data(), bytes.size());
  return p + bytes.size();
}

uint8_t* PutVarintField(uint8_t tag, uint64_t v, uint8_t* p) {
  if (v == 0) return p;
  *p++ = tag;
  return PutVarint(v, p);
}

}  // namespace

std::string EncodeEntry(uint64_t index, absl::string_view prev_leaf_hash,
                        int64_t recorded_at_unix_micros, uint64_t stream_version,
                        const v1::SignedEnvelope& signed_envelope) {
  const absl::string_view envelope = signed_envelope.envelope();
  const absl::string_view signature = signed_envelope.signature();
  const size_t inner = BytesFieldSize(envelope.size()) + BytesFieldSize(signature.size());
  if (signed_envelope.ByteSizeLong() != inner) {
    // Something beyond the two known fields: let protobuf write it all.
    v1::Entry e;
    e.set_index(index);
    e.set_prev_leaf_hash(std::string(prev_leaf_hash));
    e.set_recorded_at_unix_micros(recorded_at_unix_micros);
    e.set_stream_version(stream_version);
    *e.mutable_signed_envelope() = signed_envelope;
    return ledger::SerializeEntry(e);
  }
  const uint64_t recorded_at = static_cast<uint64_t>(recorded_at_unix_micros);
  const size_t size = (index == 0 ? 0 : 1 + VarintSize(index)) +
                      BytesFieldSize(prev_leaf_hash.size()) +
                      (recorded_at == 0 ? 0 : 1 + VarintSize(recorded_at)) +
                      (stream_version == 0 ? 0 : 1 + VarintSize(stream_version)) +
                      1 + VarintSize(inner) + inner;
  std::string out(size, '\0');
  uint8_t* const begin = reinterpret_cast<uint8_t*>(out.data());
  uint8_t* p = begin;
  p = PutVarintField(kTagIndex, index, p);
  p = PutBytesField(kTagPrevLeafHash, prev_leaf_hash, p);
  p = PutVarintField(kTagRecordedAt, recorded_at, p);
  p = PutVarintField(kTagStreamVersion, stream_version, p);
  *p++ = kTagSignedEnvelope;  // present even when empty, as protobuf writes a set message
  p = PutVarint(inner, p);
  p = PutBytesField(kTagEnvelope, envelope, p);
  p = PutBytesField(kTagSignature, signature, p);
  out.resize(static_cast<size_t>(p - begin));  // == size
  return out;
}

}  // namespace trialog::storage
