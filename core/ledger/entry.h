// Entries: how the server turns a signed envelope into stored bytes, and
// how anyone checks those bytes (leaf hash, chain link, envelope signature).
// docs/FORMAT.md describes every byte.

#ifndef TRIALOG_CORE_LEDGER_ENTRY_H_
#define TRIALOG_CORE_LEDGER_ENTRY_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "trialog/v1/ledger.pb.h"

namespace trialog::ledger {

// Domain separation for envelope signatures: the client signs
// kEnvelopeSignaturePrefix || envelope bytes.
inline constexpr absl::string_view kEnvelopeSignaturePrefix = "trialog/v1/envelope\n";
inline constexpr size_t kEventIdSize = 16;
// The chain link of entry 0.
inline const std::string& ZeroHash();

// The message an envelope signature covers.
std::string EnvelopeSigningMessage(absl::string_view envelope_bytes);

// An entry as stored, with its parsed parts. The bytes are authoritative:
// `leaf_hash` is computed from `bytes`, never from a re-serialisation.
struct ParsedEntry {
  std::string bytes;
  std::string leaf_hash;  // SHA-256(0x00 || bytes)
  v1::Entry entry;
  v1::Envelope envelope;  // parsed from entry.signed_envelope().envelope()
};

// Serialises an entry deterministically (the server does this once; the
// result is what is stored).
std::string SerializeEntry(const v1::Entry& entry);

// Parses stored entry bytes strictly: the entry and its envelope must
// parse, the envelope must round-trip to the same bytes is NOT required
// (verifiers never re-serialise), but required fields must be present and
// well-formed (32-byte prev hash, 64-byte signature, 16-byte event id).
// INVALID_ARGUMENT (message names the field) on anything else.
absl::StatusOr<ParsedEntry> ParseEntry(absl::string_view bytes);
// As ParseEntry, into `*out`, reusing its buffers (a replay parses millions
// of entries into a few recycled ParsedEntry objects instead of allocating
// each one's strings and messages afresh). `bytes` may alias out->bytes.
// On error *out is left in an unspecified (but valid) state.
absl::Status ParseEntryInto(absl::string_view bytes, ParsedEntry* out);

// Parses and checks the shape of envelope bytes as a client sent them:
// trial and stream ids, event id length, actor principal id, an event set.
absl::StatusOr<v1::Envelope> ParseEnvelope(absl::string_view envelope_bytes);
// As ParseEnvelope, into `*out` (reusing its buffers); on error *out is
// left unspecified.
absl::Status ParseEnvelopeInto(absl::string_view envelope_bytes, v1::Envelope* out);

// The event id (Envelope field 3) of serialised envelope bytes, read
// without building the message: the last occurrence, as a full parse would
// keep. Empty when there is none or the bytes are not well-formed wire
// format. For lookups only (is this a repeat?): admission still parses and
// checks the whole envelope. Whenever a full parse succeeds, this equals
// its event_id() (the envelope fuzzer checks that).
std::string PeekEventId(absl::string_view envelope_bytes);

// Checks entry `e` continues the chain: e.index == expected_index and
// e.prev_leaf_hash == prev_leaf_hash. DATA_LOSS with the index otherwise.
absl::Status CheckChainLink(const ParsedEntry& e, uint64_t expected_index,
                            absl::string_view prev_leaf_hash);

// Ed25519 check of the envelope signature under `public_key`.
// UNAUTHENTICATED when it does not verify.
absl::Status VerifyEnvelopeSignature(const v1::SignedEnvelope& signed_envelope,
                                     absl::string_view public_key);

inline const std::string& ZeroHash() {
  static const std::string* zero = new std::string(32, '\0');
  return *zero;
}

}  // namespace trialog::ledger

#endif  // TRIALOG_CORE_LEDGER_ENTRY_H_
