#include "core/ledger/entry.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/crypto/crypto.h"
#include "core/ledger/batch.h"
#include "core/merkle/merkle.h"
#include "core/util/bytes.h"
#include "core/util/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"

namespace trialog::ledger {
namespace {

// Identifiers: 1..128 bytes of [A-Za-z0-9._/:-]. Stream ids use '/'.
absl::Status CheckIdentifier(absl::string_view field, absl::string_view value) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is empty"));
  if (value.size() > 128) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is longer than 128 bytes"));
  }
  for (char c : value) {
    bool ok = absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
              c == '-' || c == '/' || c == ':';
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " \"", value, "\" contains a character outside [A-Za-z0-9._/:-]"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string EnvelopeSigningMessage(absl::string_view envelope_bytes) {
  return absl::StrCat(kEnvelopeSignaturePrefix, envelope_bytes);
}

std::string SerializeEntry(const v1::Entry& entry) {
  std::string out;
  google::protobuf::io::StringOutputStream raw(&out);
  google::protobuf::io::CodedOutputStream coded(&raw);
  coded.SetSerializationDeterministic(true);
  entry.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

std::string PeekEventId(absl::string_view envelope_bytes) {
  using google::protobuf::internal::WireFormatLite;
  constexpr int kEventIdField = v1::Envelope::kEventIdFieldNumber;
  google::protobuf::io::CodedInputStream in(
      reinterpret_cast<const uint8_t*>(envelope_bytes.data()),
      static_cast<int>(envelope_bytes.size()));
  std::string event_id;
  for (;;) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) {
      // The end of the input, or a malformed tag (then not at the end).
      const bool at_end = in.CurrentPosition() == static_cast<int>(envelope_bytes.size());
      return at_end ? event_id : std::string();
    }
    if (WireFormatLite::GetTagFieldNumber(tag) == kEventIdField &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!WireFormatLite::ReadBytes(&in, &event_id)) return std::string();
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return std::string();
    }
  }
}

absl::StatusOr<v1::Envelope> ParseEnvelope(absl::string_view envelope_bytes) {
  v1::Envelope envelope;
  TRIALOG_RETURN_IF_ERROR(ParseEnvelopeInto(envelope_bytes, &envelope));
  return envelope;
}

absl::Status ParseEnvelopeInto(absl::string_view envelope_bytes, v1::Envelope* out) {
  v1::Envelope& envelope = *out;
  if (envelope_bytes.empty()) return absl::InvalidArgumentError("envelope is empty");
  if (!envelope.ParseFromArray(envelope_bytes.data(), static_cast<int>(envelope_bytes.size()))) {
    return absl::InvalidArgumentError("envelope bytes are not a valid trialog.v1.Envelope");
  }
  if (!envelope.GetReflection()->GetUnknownFields(envelope).empty()) {
    return absl::InvalidArgumentError("envelope has fields unknown to trialog.v1");
  }
  if (absl::Status s = CheckIdentifier("trial_id", envelope.trial_id()); !s.ok()) return s;
  if (absl::Status s = CheckIdentifier("stream_id", envelope.stream_id()); !s.ok()) return s;
  if (envelope.event_id().size() != kEventIdSize) {
    return absl::InvalidArgumentError(absl::StrCat("event_id must be ", kEventIdSize,
                                                   " bytes, got ", envelope.event_id().size()));
  }
  if (absl::Status s = CheckIdentifier("actor.principal_id", envelope.actor().principal_id());
      !s.ok()) {
    return s;
  }
  if (envelope.actor().role() == v1::ROLE_UNSPECIFIED) {
    return absl::InvalidArgumentError("actor.role is unspecified");
  }
  if (envelope.event().kind_case() == v1::Event::KIND_NOT_SET) {
    return absl::InvalidArgumentError("envelope carries no event");
  }
  if (!envelope.has_observed_at()) {
    return absl::InvalidArgumentError("observed_at is missing");
  }
  int32_t offset = envelope.observed_at().utc_offset_minutes();
  if (offset < -14 * 60 || offset > 14 * 60) {
    return absl::InvalidArgumentError(
        absl::StrCat("observed_at.utc_offset_minutes ", offset, " is outside -840..840"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ParsedEntry> ParseEntry(absl::string_view bytes) {
  ParsedEntry parsed;
  TRIALOG_RETURN_IF_ERROR(ParseEntryInto(bytes, &parsed));
  return parsed;
}

absl::Status ParseEntryInto(absl::string_view bytes, ParsedEntry* out) {
  ParsedEntry& parsed = *out;
  if (!parsed.entry.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError("entry bytes are not a valid trialog.v1.Entry");
  }
  const v1::Entry& e = parsed.entry;
  if (e.prev_leaf_hash().size() != merkle::kHashSize) {
    return absl::InvalidArgumentError(absl::StrCat("entry ", e.index(), ": prev_leaf_hash is ",
                                                   e.prev_leaf_hash().size(), " bytes, not 32"));
  }
  if (absl::Status s = CheckSignedEnvelopeShape(e.signed_envelope()); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("entry ", e.index(), ": ", s.message()));
  }
  if (e.stream_version() == 0) {
    return absl::InvalidArgumentError(absl::StrCat("entry ", e.index(), ": stream_version is 0"));
  }
  if (absl::Status s = ParseEnvelopeInto(e.signed_envelope().envelope(), &parsed.envelope);
      !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("entry ", e.index(), ": ", s.message()));
  }
  // `bytes` may be parsed.bytes itself (a caller recycling its buffers).
  if (bytes.data() != parsed.bytes.data() || bytes.size() != parsed.bytes.size()) {
    parsed.bytes.assign(bytes.data(), bytes.size());
  }
  parsed.leaf_hash = merkle::HashLeaf(parsed.bytes);
  return absl::OkStatus();
}

absl::Status CheckChainLink(const ParsedEntry& e, uint64_t expected_index,
                            absl::string_view prev_leaf_hash) {
  if (e.entry.index() != expected_index) {
    return absl::DataLossError(absl::StrCat("entry at position ", expected_index,
                                            " claims index ", e.entry.index()));
  }
  if (e.entry.prev_leaf_hash() != prev_leaf_hash) {
    return absl::DataLossError(absl::StrCat(
        "entry ", expected_index, ": chain broken: prev_leaf_hash ",
        HexEncode(e.entry.prev_leaf_hash()), " != leaf hash of entry before it ",
        HexEncode(prev_leaf_hash)));
  }
  return absl::OkStatus();
}

absl::Status VerifyEnvelopeSignature(const v1::SignedEnvelope& signed_envelope,
                                     absl::string_view public_key) {
  if (signed_envelope.signature().size() != crypto::kSignatureSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "signature must be 64 bytes, got ", signed_envelope.signature().size()));
  }
  if (!crypto::Verify(public_key, EnvelopeSigningMessage(signed_envelope.envelope()),
                      signed_envelope.signature())) {
    return absl::UnauthenticatedError("envelope signature does not verify under the signer's key");
  }
  return absl::OkStatus();
}

}  // namespace trialog::ledger
