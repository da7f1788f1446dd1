// TrialStateMachine: the trial domain's rules and projections behind the
// ledger's StateMachine seam. Check enforces the role x action table
// (PERMISSION_DENIED), payload shape (INVALID_ARGUMENT) and the protocol's
// sequencing and clinical rules (FAILED_PRECONDITION, message "rule <id>:
// ..."; docs/TRIAL.md lists every rule). Apply folds an entry into the
// per-subject records and recomputes that subject's projection; it never
// fails. Snapshot()/FromSnapshot() serialise the whole state
// deterministically, keyed by the index of the last entry folded in.
//
// Thread-safety: none; callers serialise (the sequencer is one thread).
// Const methods may run concurrently with each other.

#ifndef TRIALOG_CORE_TRIAL_STATE_MACHINE_H_
#define TRIALOG_CORE_TRIAL_STATE_MACHINE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/ledger/state_machine.h"
#include "trialog/v1/trial.pb.h"

namespace trialog::trial {

// "subject/<id>" -> "<id>"; INVALID_ARGUMENT unless id is [A-Za-z0-9._-]{1,64}.
absl::StatusOr<std::string> SubjectIdFromStream(absl::string_view stream_id);
// The stream of trial-level events.
inline constexpr absl::string_view kTrialStream = "trial";

// An immutable copy of a TrialStateMachine's projections, cheap to take
// (O(subjects) pointer copies: Apply replaces a subject's projection, it
// never mutates one that a view may hold). What trialogd serves current
// state from while appends go on.
struct TrialView {
  bool has_applied = false;
  uint64_t last_index = 0;  // last entry folded in (valid when has_applied)
  int64_t last_recorded_at_unix_micros = 0;
  bool locked = false;
  uint32_t sites_active = 0;
  std::shared_ptr<const v1::ProtocolDefinition> protocol;  // the active one; null before genesis
  // By subject id, sorted ascending.
  std::vector<std::pair<std::string, std::shared_ptr<const v1::SubjectState>>> subjects;

  // The subject's projection; nullptr if never registered.
  const v1::SubjectState* Subject(absl::string_view subject_id) const;
  // Computes the summary (Summarize over the subjects): equal, byte for
  // byte, to TrialStateMachine::Summary() of the state viewed.
  v1::TrialSummary Summary() const;
};

class TrialStateMachine : public ledger::StateMachine {
 public:
  // Empty: the protocol comes from the genesis entry's Genesis.protocol.
  TrialStateMachine();
  // Starts with `genesis_protocol` active (as if genesis had been applied).
  // REQUIRES: ValidateProtocol(genesis_protocol).ok().
  explicit TrialStateMachine(v1::ProtocolDefinition genesis_protocol);

  // Restores a Snapshot(). INVALID_ARGUMENT if the bytes do not parse or the
  // format is unknown; DATA_LOSS if a stored projection differs from the one
  // recomputed from the stored records.
  static absl::StatusOr<std::unique_ptr<TrialStateMachine>> FromSnapshot(absl::string_view bytes);

  absl::Status Check(const ledger::Candidate& candidate) const override;
  void Apply(const ledger::ParsedEntry& entry) override;
  // A deep copy (subject stores are copied; projections are shared).
  std::unique_ptr<ledger::StateMachine> Clone() const override {
    return std::make_unique<TrialStateMachine>(*this);
  }

  // The whole state, deterministically serialised (a TrialMachineSnapshot).
  std::string Snapshot() const;

  // Snapshot hooks (see ledger::StateMachine): Snapshot() bytes;
  // RestoreState is FromSnapshot in place (state unchanged on error).
  static constexpr absl::string_view kStateKind = "trialog.trial/1";
  std::string StateKind() const override { return std::string(kStateKind); }
  std::string SaveState() const override { return Snapshot(); }
  absl::Status RestoreState(absl::string_view bytes) override;

  // Replay hint: while replaying, a subject's projection is recomputed once
  // at EndReplay instead of after every Apply (the last recomputation of
  // every subject already uses the final protocol and store, so the result
  // is the same).
  void BeginReplay() override { deferring_ = true; }
  void EndReplay() override;

  // The active protocol version; nullptr before genesis.
  const v1::ProtocolDefinition* protocol() const;
  // Every version activated so far, oldest first.
  const std::vector<v1::ProtocolDefinition>& protocol_versions() const { return protocols_; }
  bool has_applied() const { return has_applied_; }
  // Index of the last entry folded in. REQUIRES: has_applied().
  uint64_t last_index() const { return last_index_; }
  int64_t last_recorded_at_unix_micros() const { return last_recorded_at_; }
  bool locked() const { return locked_; }

  // The subject's projection; NOT_FOUND if never registered.
  absl::StatusOr<v1::SubjectState> Subject(absl::string_view subject_id) const;
  // Registered subject ids, sorted.
  std::vector<std::string> SubjectIds() const;
  v1::TrialSummary Summary() const;
  // An immutable view of the projections as they are now (see TrialView).
  TrialView View() const;
  // The subject's stored records (corrections applied, voids marked);
  // nullptr if never registered. Valid until the next Apply.
  const v1::SubjectStore* Store(absl::string_view subject_id) const;

  // Leaf hash of the entry holding the current version of record
  // `event_id` of subject stream `stream_id` (what an ESignature must
  // carry). NOT_FOUND if there is no such record.
  absl::StatusOr<std::string> RecordHash(absl::string_view stream_id,
                                         absl::string_view event_id) const;
  // Fills every empty record_hash of `signature` from RecordHash (for a
  // SIG_CASEBOOK without records, adds the stream head). Clients call this
  // right before signing. NOT_FOUND as RecordHash.
  absl::Status FillSignatureHashes(absl::string_view stream_id, v1::ESignature* signature) const;

 private:
  struct SubjectData {
    v1::SubjectStore store;  // store.state is left empty: `state` holds it
    // The projection; replaced (never mutated) by Reproject.
    std::shared_ptr<const v1::SubjectState> state = std::make_shared<const v1::SubjectState>();
    absl::flat_hash_map<std::string, int> by_event_id;  // -> position in store.records
    bool stale = false;  // listed in dirty_ (replay defers Reproject)
  };

  absl::Status CheckTrialEvent(const v1::Envelope& env, const v1::TrialEvent& e) const;
  absl::Status CheckTrialLevel(const v1::Envelope& env, const v1::TrialEvent& e) const;
  absl::Status CheckSubjectEvent(const v1::Envelope& env, const v1::TrialEvent& e,
                                 const SubjectData& subject) const;
  absl::Status CheckCorrection(const v1::Envelope& env, const v1::DataCorrected& c,
                               const SubjectData& subject) const;
  absl::Status CheckSignature(const v1::Envelope& env, const v1::ESignature& sig,
                              const SubjectData& subject) const;
  const SubjectData* FindSubject(absl::string_view subject_id) const;
  const v1::StoredRecord* FindRecord(const SubjectData& subject, absl::string_view event_id) const;
  void ApplySubjectEvent(const ledger::ParsedEntry& entry, const v1::TrialEvent& e);
  void Reproject(SubjectData* subject);

  // Appends a protocol version and makes it the active one.
  void Activate(v1::ProtocolDefinition protocol);

  std::vector<v1::ProtocolDefinition> protocols_;
  std::shared_ptr<const v1::ProtocolDefinition> active_;  // = protocols_.back()
  bool locked_ = false;
  std::map<std::string, v1::SiteState> sites_;
  std::map<std::string, SubjectData> subjects_;
  bool has_applied_ = false;
  bool deferring_ = false;       // between BeginReplay and EndReplay
  std::vector<std::string> dirty_;  // subjects with a stale projection (each once)
  uint64_t last_index_ = 0;
  int64_t last_recorded_at_ = 0;
};

}  // namespace trialog::trial

#endif  // TRIALOG_CORE_TRIAL_STATE_MACHINE_H_
