// The sequencer's Entry bytes without a protobuf round trip.
//
// A stored entry is v1::Entry (proto/trialog/v1/ledger.proto) serialised
// deterministically (ledger::SerializeEntry); verifiers hash exactly those
// bytes. EncodeEntry writes the same bytes directly: the four scalar
// fields (each omitted when zero, as proto3 does), then field 5 holding the
// SignedEnvelope's two bytes fields (each omitted when empty), with the
// client's envelope and signature bytes copied once. When the
// SignedEnvelope carries anything else (unknown fields a client sent, or a
// field added to the schema later), its serialised size differs from the
// two fields' and EncodeEntry falls back to ledger::SerializeEntry, so the
// result always equals protobuf's serialisation (tests/storage/
// entry_encoding_test.cc checks this for random and edge-case entries).

#ifndef TRIALOG_STORAGE_ENTRY_ENCODING_H_
#define TRIALOG_STORAGE_ENTRY_ENCODING_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "trialog/v1/ledger.pb.h"

namespace trialog::storage {

// The bytes of ledger::SerializeEntry(e) for the Entry e with these fields
// (and no others). `recorded_at_unix_micros` may be negative (ten-byte
// varint, as protobuf encodes int64).
std::string EncodeEntry(uint64_t index, absl::string_view prev_leaf_hash,
                        int64_t recorded_at_unix_micros, uint64_t stream_version,
                        const v1::SignedEnvelope& signed_envelope);

}  // namespace trialog::storage

#endif  // TRIALOG_STORAGE_ENTRY_ENCODING_H_
