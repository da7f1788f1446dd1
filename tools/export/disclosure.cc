#include "tools/export/disclosure.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "core/crypto/crypto.h"
#include "core/ledger/registry.h"
#include "core/merkle/merkle.h"
#include "core/note/note.h"
#include "core/trial/state_machine.h"
#include "core/util/bytes.h"
#include "core/util/status_macros.h"
#include "tools/export/event_json.h"
#include "tools/export/timestamps.h"

namespace trialog::exporter {
namespace {

constexpr absl::string_view kTrialStream = "trial";

// Every perfect node of a tree, in memory (for proofs at the checkpoint).
class MemoryNodes : public merkle::NodeSource {
 public:
  explicit MemoryNodes(const std::vector<ledger::ParsedEntry>& entries) {
    merkle::CompactTree tree;
    for (const ledger::ParsedEntry& e : entries) {
      tree.Append(e.leaf_hash, [this](merkle::NodeId id, absl::string_view hash) {
        nodes_[Key(id)] = std::string(hash);
      });
    }
  }
  absl::StatusOr<std::string> GetNode(merkle::NodeId id) const override {
    auto it = nodes_.find(Key(id));
    if (it == nodes_.end()) return absl::NotFoundError("no such node");
    return it->second;
  }

 private:
  static std::pair<uint32_t, uint64_t> Key(merkle::NodeId id) { return {id.level, id.index}; }
  absl::flat_hash_map<std::pair<uint32_t, uint64_t>, std::string> nodes_;
};

bool Disclosed(const ledger::ParsedEntry& e, absl::string_view subject_stream) {
  return IsAdministrative(e) || e.envelope.stream_id() == kTrialStream ||
         e.envelope.stream_id() == subject_stream;
}

std::string WithoutNewline(std::string s) {
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

}  // namespace

absl::Status WriteSubjectDisclosure(const ExportInput& input, absl::string_view subject_id,
                                    const note::NoteSigner& exporter, const std::string& dir,
                                    const BundleWriteOptions& options) {
  const std::string stream = absl::StrCat("subject/", subject_id);
  std::vector<const ledger::ParsedEntry*> chosen;
  size_t subject_entries = 0;
  for (const ledger::ParsedEntry& e : input.entries) {
    if (!Disclosed(e, stream)) continue;
    chosen.push_back(&e);
    subject_entries += e.envelope.stream_id() == stream;
  }
  if (subject_entries == 0) {
    return absl::NotFoundError(absl::StrCat("no subject ", subject_id, " in this ledger"));
  }
  MemoryNodes nodes(input.entries);
  std::vector<std::string> bytes;
  std::vector<IndexedProof> proofs;
  std::string jsonl;
  for (const ledger::ParsedEntry* e : chosen) {
    bytes.push_back(e->bytes);
    TRIALOG_ASSIGN_OR_RETURN(std::vector<std::string> proof,
                             merkle::InclusionProof(nodes, e->entry.index(), input.checkpoint.size));
    proofs.push_back(IndexedProof{e->entry.index(), input.checkpoint.size, std::move(proof)});
    TRIALOG_ASSIGN_OR_RETURN(std::string line, EventJsonLine(*e));
    absl::StrAppend(&jsonl, line, "\n");
  }
  TRIALOG_ASSIGN_OR_RETURN(std::string entries_bin, EncodeEntriesFile(bytes));
  TRIALOG_ASSIGN_OR_RETURN(std::string proofs_bin, EncodeProofsFile(proofs));

  Manifest m;
  m.kind = std::string(kKindSubjectDisclosure);
  m.origin = input.checkpoint.origin;
  m.trial_id = input.trial_id;
  m.subject_id = std::string(subject_id);
  m.checkpoint_size = input.checkpoint.size;
  m.checkpoint_root = input.checkpoint.root_hash;
  m.entries = chosen.size();
  m.first_index = chosen.front()->entry.index();
  m.last_index = chosen.back()->entry.index();
  m.head = chosen.back()->leaf_hash;
  m.created = UtcTimestamp(options.created_unix_micros != 0 ? options.created_unix_micros
                                                            : absl::ToUnixMicros(absl::Now()));
  std::map<std::string, std::string> files;
  files[std::string(kCheckpointFile)] = input.checkpoint_note;
  files[std::string(kLedgerKeyFile)] = absl::StrCat(input.ledger_vkey, "\n");
  files[std::string(kEntriesFile)] = std::move(entries_bin);
  files[std::string(kProofsFile)] = std::move(proofs_bin);
  files[std::string(kEventsFile)] = std::move(jsonl);
  files[std::string(kReadmeFile)] = BundleReadme(m, input.ledger_vkey, exporter.verifier_key());
  return WriteBundleDirectory(dir, std::move(m), files, exporter);
}

bool LooksLikeSubjectDisclosure(const std::string& dir) {
  std::ifstream in(std::filesystem::path(dir) / std::string(kManifestFile), std::ios::binary);
  if (!in) return false;
  std::string first, second;
  std::getline(in, first);
  std::getline(in, second);
  return first == kManifestHeader && second == absl::StrCat("kind ", kKindSubjectDisclosure);
}

DisclosureVerification VerifySubjectDisclosure(const std::string& dir, absl::string_view ledger_vkey,
                                               const BundleTrust& trust) {
  DisclosureVerification v;
  v.limitations = {
      "Only this subject's entries, the trial-level entries and the ledger's administrative entries "
      "are disclosed; the rest of the ledger is not, so the protocol rules that span the whole trial "
      "and the other subjects' records were NOT checked. A full ledger bundle verifies those.",
      "The entries are proven to be in the ledger whose checkpoint is signed by the ledger key; "
      "entries appended after that checkpoint are not covered.",
      "Contiguous stream versions show that no entry of the disclosed streams is missing up to the "
      "last one disclosed; that the subject has no entry after it (within the checkpoint) cannot be "
      "shown from this form.",
      "Signer keys come from the disclosed administrative entries; that no key rotation or "
      "revocation was left out is shown the same way (contiguous versions), not by a full replay.",
  };
  auto fail = [&](ledger::Finding f, std::string message, std::optional<uint64_t> index = std::nullopt) {
    v.finding = f;
    v.message = std::move(message);
    v.first_bad_index = index;
    return v;
  };
  absl::StatusOr<note::Verifier> key = note::ParseVerifierKey(ledger_vkey);
  if (!key.ok()) return fail(ledger::Finding::kUnreadable, absl::StrCat("ledger key: ", key.status().message()));
  absl::StatusOr<OpenedBundle> b = OpenBundle(dir, trust);
  if (!b.ok()) return fail(ledger::Finding::kUnreadable, std::string(b.status().message()));
  v.exporter_key_name = b->exporter_key.name;
  v.exporter_key_pinned = b->exporter_key_pinned;
  const Manifest& m = b->manifest;
  v.subject_id = m.subject_id;
  if (m.kind != kKindSubjectDisclosure) {
    return fail(ledger::Finding::kUnreadable, absl::StrCat("this is a ", m.kind, ", not a subject disclosure"));
  }
  if (WithoutNewline(b->file(kLedgerKeyFile)) != ledger_vkey) {
    return fail(ledger::Finding::kCheckpointSignature,
                absl::StrCat("the disclosure was exported for ledger key \"",
                             WithoutNewline(b->file(kLedgerKeyFile)), "\", not the pinned one"));
  }
  absl::StatusOr<note::Checkpoint> checkpoint = note::OpenCheckpoint(b->file(kCheckpointFile), *key);
  if (!checkpoint.ok()) {
    return fail(checkpoint.status().code() == absl::StatusCode::kInvalidArgument
                    ? ledger::Finding::kUnreadable
                    : ledger::Finding::kCheckpointSignature,
                absl::StrCat("checkpoint: ", checkpoint.status().message()));
  }
  v.checkpoint = *checkpoint;
  if (m.origin != checkpoint->origin || m.checkpoint_size != checkpoint->size ||
      m.checkpoint_root != checkpoint->root_hash) {
    return fail(ledger::Finding::kUnreadable,
                "bundle: the manifest's origin, checkpoint size or root is not the checkpoint's");
  }
  const std::string& entries_file = b->file(kEntriesFile);
  const ManifestFile* listed = m.Find(kEntriesFile);
  if (entries_file.size() != listed->size || crypto::Sha256(entries_file) != listed->sha256) {
    return fail(ledger::Finding::kUnreadable, "bundle: entries.bin differs from the manifest");
  }
  absl::StatusOr<std::vector<std::string>> raw = DecodeEntriesFile(entries_file);
  if (!raw.ok()) return fail(ledger::Finding::kUnreadable, std::string(raw.status().message()));
  absl::StatusOr<std::vector<IndexedProof>> proofs = DecodeProofsFile(b->file(kProofsFile));
  if (!proofs.ok()) return fail(ledger::Finding::kUnreadable, std::string(proofs.status().message()));
  if (raw->empty() || raw->size() != proofs->size() || raw->size() != m.entries) {
    return fail(ledger::Finding::kUnreadable,
                absl::StrCat("bundle: ", raw->size(), " entries, ", proofs->size(), " proofs, the manifest says ",
                             m.entries));
  }

  // Inclusion of every entry under the checkpoint, order, streams.
  const std::string subject_stream = absl::StrCat("subject/", m.subject_id);
  std::vector<ledger::ParsedEntry> entries;
  for (size_t i = 0; i < raw->size(); ++i) {
    const IndexedProof& p = (*proofs)[i];
    absl::StatusOr<ledger::ParsedEntry> e = ledger::ParseEntry((*raw)[i]);
    if (!e.ok()) {
      return fail(ledger::Finding::kChainDamage,
                  absl::StrCat("entry ", p.index, ": unreadable: ", e.status().message()), p.index);
    }
    const uint64_t index = e->entry.index();
    if (index != p.index || p.tree_size != checkpoint->size) {
      return fail(ledger::Finding::kChainDamage,
                  absl::StrCat("entry ", index, ": its proof is for entry ", p.index, " of a tree of ",
                               p.tree_size, ", not of the checkpoint's ", checkpoint->size),
                  index);
    }
    if (!entries.empty() && index <= entries.back().entry.index()) {
      return fail(ledger::Finding::kChainDamage,
                  absl::StrCat("entry ", index, " follows entry ", entries.back().entry.index(),
                               ": disclosed entries must be in increasing index order"),
                  index);
    }
    if (absl::Status s = merkle::VerifyInclusion(index, checkpoint->size, e->leaf_hash, p.hashes,
                                                 checkpoint->root_hash);
        !s.ok()) {
      return fail(ledger::Finding::kChainDamage,
                  absl::StrCat("entry ", index, ": not proven to be in the checkpoint's tree: ", s.message()),
                  index);
    }
    if (!Disclosed(*e, subject_stream)) {
      return fail(ledger::Finding::kUnreadable,
                  absl::StrCat("entry ", index, " belongs to stream ", e->envelope.stream_id(),
                               ", which a disclosure of subject ", m.subject_id, " must not hold"),
                  index);
    }
    entries.push_back(*std::move(e));
  }
  if (entries.front().entry.index() != 0) {
    return fail(ledger::Finding::kChainDamage, "the genesis entry (index 0) is not disclosed", 0);
  }
  // Adjacent entries are chained; streams have no gaps; time never goes
  // backwards; event ids are unique.
  std::map<std::string, uint64_t> versions;
  std::set<std::string> event_ids;
  for (size_t i = 0; i < entries.size(); ++i) {
    const ledger::ParsedEntry& e = entries[i];
    const uint64_t index = e.entry.index();
    if (i > 0 && entries[i - 1].entry.index() + 1 == index &&
        e.entry.prev_leaf_hash() != entries[i - 1].leaf_hash) {
      return fail(ledger::Finding::kChainDamage,
                  absl::StrCat("entry ", index, ": prev_leaf_hash is not the leaf hash of entry ", index - 1),
                  index);
    }
    if (i > 0 && e.entry.recorded_at_unix_micros() < entries[i - 1].entry.recorded_at_unix_micros()) {
      return fail(ledger::Finding::kChainDamage, absl::StrCat("entry ", index, ": recorded_at goes backwards"),
                  index);
    }
    uint64_t& version = versions[e.envelope.stream_id()];
    if (e.entry.stream_version() != version + 1) {
      return fail(ledger::Finding::kChainDamage,
                  absl::StrCat("entry ", index, ": stream ", e.envelope.stream_id(), " version ",
                               e.entry.stream_version(), " follows version ", version,
                               ": entries of this stream are missing from the disclosure"),
                  index);
    }
    version = e.entry.stream_version();
    if (!event_ids.insert(e.envelope.event_id()).second) {
      return fail(ledger::Finding::kChainDamage, absl::StrCat("entry ", index, ": event id appears twice"), index);
    }
    if (e.envelope.stream_id() == subject_stream) {
      ++v.subject_entries;
      v.last_subject_index = index;
    } else if (IsAdministrative(e)) {
      ++v.admin_entries;
    } else {
      ++v.trial_entries;
    }
  }
  v.entries = entries.size();
  if (v.subject_entries == 0) {
    return fail(ledger::Finding::kUnreadable, absl::StrCat("no entry of subject ", m.subject_id, " is disclosed"));
  }

  // Signatures under the registry replayed from the disclosed entries, and
  // the subject's rules.
  ledger::PrincipalRegistry registry;
  trial::TrialStateMachine rules;
  for (const ledger::ParsedEntry& e : entries) {
    const uint64_t index = e.entry.index();
    ledger::Candidate c{e.envelope, index, e.entry.recorded_at_unix_micros(), e.entry.stream_version()};
    absl::StatusOr<std::string> signer =
        e.envelope.event().has_genesis()
            ? absl::StatusOr<std::string>(e.envelope.event().genesis().first_admin().public_key())
            : registry.KeyFor(e.envelope.actor());
    if (!signer.ok()) {
      return fail(signer.status().code() == absl::StatusCode::kPermissionDenied ? ledger::Finding::kRuleViolation
                                                                                 : ledger::Finding::kEnvelopeSignature,
                  absl::StrCat("entry ", index, ": ", signer.status().message()), index);
    }
    if (absl::Status s = ledger::VerifyEnvelopeSignature(e.entry.signed_envelope(), *signer); !s.ok()) {
      return fail(ledger::Finding::kEnvelopeSignature,
                  absl::StrCat("entry ", index, ": signature by ", e.envelope.actor().principal_id(),
                               " does not verify under the key the ledger held for that principal"),
                  index);
    }
    ++v.signatures_checked;
    if (absl::Status s = registry.Check(c); !s.ok()) {
      return fail(ledger::Finding::kRuleViolation, absl::StrCat("entry ", index, ": ", s.message()), index);
    }
    if (absl::Status s = rules.Check(c); !s.ok()) {
      return fail(ledger::Finding::kRuleViolation, absl::StrCat("entry ", index, ": ", s.message()), index);
    }
    registry.Apply(e);
    rules.Apply(e);
  }
  v.subject_rules_replayed = true;
  if (absl::StatusOr<v1::SubjectState> s = rules.Subject(m.subject_id); s.ok()) v.subject_state = *s;

  // The rendering says what the entries say.
  const std::string& jsonl = b->file(kEventsFile);
  std::vector<absl::string_view> lines = absl::StrSplit(jsonl, '\n');
  if (jsonl.empty() || jsonl.back() != '\n' || lines.size() != entries.size() + 1) {
    return fail(ledger::Finding::kUnreadable, "events.jsonl: not one line per disclosed entry");
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    if (absl::Status s = CheckEventLine(lines[i], entries[i]); !s.ok()) {
      return fail(ledger::Finding::kUnreadable, std::string(s.message()));
    }
  }
  if (m.first_index != entries.front().entry.index() || m.last_index != entries.back().entry.index() ||
      m.head != entries.back().leaf_hash || m.trial_id != entries.front().envelope.trial_id()) {
    return fail(ledger::Finding::kUnreadable, "bundle: the manifest's indexes, head or trial differ from the entries");
  }
  return fail(ledger::Finding::kOk,
              absl::StrCat(v.entries, " disclosed entries of subject ", m.subject_id, " (", v.subject_entries,
                           " of its own, ", v.trial_entries, " trial-level, ", v.admin_entries,
                           " administrative) are in the ledger at checkpoint size ", checkpoint->size));
}

std::string FormatDisclosureReport(const DisclosureVerification& v) {
  std::string out;
  if (v.finding == ledger::Finding::kOk) {
    absl::StrAppend(&out, "OK  per-subject disclosure of ", v.subject_id, "\n    ", v.message, "\n");
  } else {
    absl::StrAppend(&out, "FAILED (", ledger::FindingName(v.finding), ")  per-subject disclosure",
                    v.subject_id.empty() ? "" : absl::StrCat(" of ", v.subject_id), "\n    ", v.message, "\n");
    if (v.first_bad_index) absl::StrAppend(&out, "    first bad entry: ", *v.first_bad_index, "\n");
  }
  if (!v.checkpoint.origin.empty()) {
    absl::StrAppend(&out, "    checkpoint: ", v.checkpoint.origin, " size ", v.checkpoint.size, " root ",
                    Base64Encode(v.checkpoint.root_hash), "\n");
  }
  if (!v.exporter_key_name.empty()) {
    absl::StrAppend(&out, "    manifest signed by ", v.exporter_key_name,
                    v.exporter_key_pinned ? " (pinned key)\n" : " (key taken from the bundle, not pinned)\n");
  }
  if (v.finding == ledger::Finding::kOk) {
    absl::StrAppend(&out, "    checked: inclusion proof of every entry, ", v.signatures_checked,
                    " envelope signatures, chain links between adjacent entries, contiguous stream versions, "
                    "the subject's protocol rules",
                    v.subject_rules_replayed ? " (replayed: ok)" : "", "\n");
    if (v.subject_state) {
      const v1::SubjectState& s = *v.subject_state;
      absl::StrAppend(&out, "    subject: site ", s.site_id(), ", ", v1::SubjectPhase_Name(s.phase()),
                      ", best overall response ", v1::Response_Name(s.recist().bor().response()),
                      s.recist().bor().confirmed() ? " (confirmed)" : "", ", worst AE grade ",
                      s.worst_ae_grade(), ", ", s.dosing().administrations(), " administrations, ",
                      s.signatures_size(), " e-signatures (", s.outdated_signatures(), " outdated)\n");
    }
  }
  out += "    NOT verified by this form (it cannot replay rules for the whole trial):\n";
  for (const std::string& l : v.limitations) absl::StrAppend(&out, "      - ", l, "\n");
  return out;
}

}  // namespace trialog::exporter
