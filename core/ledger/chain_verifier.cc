#include "core/ledger/chain_verifier.h"

#include "absl/strings/str_cat.h"
#include "core/util/bytes.h"

namespace trialog::ledger {
namespace {

absl::Status Prefix(uint64_t index, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat("entry ", index, ": ", s.message()));
}

}  // namespace

ChainVerifier::ChainVerifier(std::vector<StateMachine*> domain, bool check_signatures)
    : domain_(std::move(domain)), check_signatures_(check_signatures), head_(ZeroHash()) {}

absl::StatusOr<std::string> ChainVerifier::SignerKey(const ParsedEntry& entry) const {
  if (entry.envelope.event().kind_case() == v1::Event::kGenesis) {
    return entry.envelope.event().genesis().first_admin().public_key();
  }
  absl::StatusOr<std::string> key = registry_.KeyFor(entry.envelope.actor());
  if (!key.ok() && key.status().code() == absl::StatusCode::kPermissionDenied) {
    // A role or site mismatch the sequencer would have refused.
    return key.status();
  }
  return key;
}

absl::Status ChainVerifier::Add(absl::string_view entry_bytes) {
  const uint64_t index = size();
  absl::StatusOr<ParsedEntry> parsed = ParseEntry(entry_bytes);
  if (!parsed.ok()) {
    return absl::DataLossError(absl::StrCat("entry ", index, ": unreadable: ",
                                            parsed.status().message()));
  }
  return AddParsed(*parsed);
}

absl::Status ChainVerifier::AddParsed(const ParsedEntry& e) {
  const uint64_t index = size();
  if (absl::Status s = CheckChainLink(e, index, head_); !s.ok()) return s;
  if (e.entry.recorded_at_unix_micros() < last_recorded_at_) {
    return absl::DataLossError(absl::StrCat("entry ", index, ": recorded_at ",
                                            e.entry.recorded_at_unix_micros(),
                                            " is earlier than the entry before it (",
                                            last_recorded_at_, ")"));
  }
  const std::string& stream = e.envelope.stream_id();
  auto it = stream_versions_.find(stream);
  const uint64_t expected_version = (it == stream_versions_.end() ? 0 : it->second) + 1;
  if (e.entry.stream_version() != expected_version) {
    return absl::DataLossError(absl::StrCat("entry ", index, ": stream ", stream, " version is ",
                                            e.entry.stream_version(), ", expected ",
                                            expected_version));
  }
  if (event_ids_.count(e.envelope.event_id())) {
    return absl::DataLossError(absl::StrCat("entry ", index, ": event id ",
                                            HexEncode(e.envelope.event_id()),
                                            " appears a second time"));
  }

  absl::StatusOr<std::string> key = SignerKey(e);
  if (!key.ok()) return Prefix(index, key.status());
  if (IsBatchSigned(e.entry.signed_envelope())) {
    // Role and proof shape are checked even when signatures are checked
    // elsewhere; the one batch signature is verified once per batch.
    if (check_signatures_) {
      if (absl::Status s =
              VerifySignedEnvelope(e.entry.signed_envelope(), e.envelope, *key, &batch_cache_);
          !s.ok()) {
        return Prefix(index, s);
      }
    } else if (absl::StatusOr<std::string> m =
                   BatchProofMessage(e.entry.signed_envelope(), e.envelope);
               !m.ok()) {
      return Prefix(index, m.status());
    }
  } else if (check_signatures_) {
    if (absl::Status s = VerifyEnvelopeSignature(e.entry.signed_envelope(), *key); !s.ok()) {
      return Prefix(index, absl::UnauthenticatedError(
                               absl::StrCat("signature by ", e.envelope.actor().principal_id(),
                                            " does not verify under the key the ledger held "
                                            "for that principal at this point")));
    }
  }

  Candidate candidate{e.envelope, index, e.entry.recorded_at_unix_micros(),
                      e.entry.stream_version()};
  if (absl::Status s = registry_.Check(candidate); !s.ok()) return Prefix(index, s);
  for (StateMachine* m : domain_) {
    if (absl::Status s = m->Check(candidate); !s.ok()) return Prefix(index, s);
  }

  registry_.Apply(e);
  for (StateMachine* m : domain_) m->Apply(e);
  tree_.Append(e.leaf_hash);
  head_ = e.leaf_hash;
  last_recorded_at_ = e.entry.recorded_at_unix_micros();
  stream_versions_[stream] = expected_version;
  event_ids_.insert(e.envelope.event_id());
  return absl::OkStatus();
}

}  // namespace trialog::ledger
