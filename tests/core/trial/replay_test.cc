// Property tests: replaying the entries from scratch (or from a snapshot)
// gives the live state byte for byte; "as of entry N / time T" queries.

#include "core/trial/replay.h"

#include <map>
#include <random>

#include "core/trial/dosing.h"
#include "core/trial/projection.h"
#include "tests/core/trial/harness.h"

namespace trialog::trial::testing {
namespace {

// Proposes random events, most of them plausible for the subject's state;
// the harness keeps those the state machine accepts.
class RandomWalk {
 public:
  RandomWalk(Harness* h, uint64_t seed) : h_(*h), rng_(seed) {}

  Attempt Propose() {
    day_ += Pick(0, 4);
    const std::string sid = "S" + std::to_string(Pick(1, 3));
    absl::StatusOr<v1::SubjectState> st = h_.sm.Subject(sid);
    const int64_t t = T(day_, 8) + static_cast<int64_t>(++tick_) * 60 * 1000000LL;
    auto at = [&](Attempt a) {
      a.observed = t;
      return a;
    };
    auto any_record = [&]() -> std::string {
      auto& v = records_[sid];
      return v.empty() ? std::string(16, 'x') : v[static_cast<size_t>(Pick(0, static_cast<int>(v.size()) - 1))];
    };
    const uint32_t bsa = st.ok() && st->bsa().bsa_m2_x100() ? st->bsa().bsa_m2_x100() : 100;
    const v1::ProtocolDefinition& p = *h_.sm.protocol();
    int choice = Pick(0, 25);
    if (Pick(0, 9) < 6) {
      // Mostly the subject's natural next step, so that the walk gets deep.
      if (h_.sm.locked()) return at({kAdmin, "trial", Unlocked(), 0, "reopened"});
      if (!st.ok()) choice = 0;
      else if (!st->consent().consented()) choice = 1;
      else if (st->consent().assent() == v1::ASSENT_STATUS_MISSING) choice = 2;
      else if (st->consent().reconsent_needed()) return at({kInv, S(sid), Reconsent(p.icf_version())});
      else if (!st->eligibility().molecular_eligible()) choice = 3;
      else if (!st->eligibility().assessed()) choice = 4;
      else if (!st->eligibility().signed_off()) choice = 5;
      else if (!st->enrolled()) choice = 6;
      else if (!st->recist().has_baseline()) choice = 7;
      else if (st->bsa().bsa_m2_x100() == 0) choice = 8;
      else if (st->dosing().prescribed_dose_mg() == 0) choice = 10;
      else choice = std::vector<int>{8, 10, 13, 13, 14, 15, 16, 17, 18, 20, 21}[static_cast<size_t>(Pick(0, 10))];
    }
    switch (choice) {
      case 0: return at({kCoord, S(sid), Registered("RU-01", static_cast<uint32_t>(Pick(1, 18)))});
      case 1: return at({kInv, S(sid), Consent(p.icf_version())});
      case 2: return at({kInv, S(sid), Pick(0, 3) ? Assent() : NoAssent(static_cast<v1::AssentNotObtainedReason>(Pick(1, 3)))});
      case 3: return at({kLab, S(sid), Pick(0, 3) ? Molecular("ALK", v1::MOLECULAR_ALTERATION_REARRANGEMENT, "TPM3")
                                                  : Molecular("ROS1", v1::MOLECULAR_ALTERATION_FUSION, "YWHAE")});
      case 4: return at({kCoord, S(sid), Eligibility(Pick(0, 5) ? "" : "INC02")});
      case 5: {
        Attempt a = {kInv, S(sid), {}};
        v1::ESignature* sig = a.event.mutable_e_signature();
        const bool eligibility = Pick(0, 1) && elig_.count(sid);
        const v1::SignatureMeaning m =
            eligibility ? v1::SIG_ELIGIBILITY : static_cast<v1::SignatureMeaning>(Pick(1, 6));
        sig->set_meaning(m);
        sig->set_meaning_text(std::string(FindSignatureDef(m)->legal_text));
        sig->set_printed_name(kInv.printed_name());
        if (m != v1::SIG_CASEBOOK) sig->add_records()->set_event_id(eligibility ? elig_[sid] : any_record());
        if (!h_.sm.FillSignatureHashes(S(sid), sig).ok()) {
          if (sig->records().empty()) sig->add_records()->set_event_id(any_record());
          sig->mutable_records(0)->set_record_hash(std::string(32, 'h'));
        }
        if (m == v1::SIG_SDV) a.actor = kMon;
        if (m == v1::SIG_SDV) sig->set_printed_name(kMon.printed_name());
        return at(a);
      }
      case 6: return at({kInv, S(sid), Enrolled()});
      case 7: return at({kRad, S(sid), Tumour(true, {{"T1", static_cast<uint32_t>(Pick(100, 600))}, {"T2", 300}})});
      case 8:
      case 9: return at({kCoord, S(sid), Measure(static_cast<uint32_t>(Pick(900, 1700)), static_cast<uint32_t>(Pick(12000, 60000)))});
      case 10:
      case 11: {
        const uint32_t dose = RecommendedDoseMg(p, bsa, 10).value_or(100) + (Pick(0, 6) ? 0 : 50);
        return at({kInv, S(sid), Prescribe(dose, bsa)});
      }
      case 12: return at({kPharm, S(sid), Dispense()});
      case 13:
      case 14: {
        const uint32_t dose = st.ok() ? st->dosing().prescribed_dose_mg() : 100;
        return at({kCoord, S(sid), Administer(dose ? dose : 100, static_cast<uint32_t>(Pick(1, 14)), 7,
                                              static_cast<uint32_t>(Pick(0, 2)))});
      }
      case 15: {
        const v1::DoseAction action = static_cast<v1::DoseAction>(Pick(1, 3));
        const uint32_t cur = st.ok() ? st->dosing().prescribed_dose_mg() : 0;
        return at({kInv, S(sid), Modify(action, action == v1::DOSE_ACTION_REDUCED ? std::max<uint32_t>(10, cur / 2) : 0), 0,
                   Pick(0, 5) ? "toxicity" : ""});
      }
      case 16: {
        const uint32_t grade = static_cast<uint32_t>(Pick(1, 5));
        const std::string id = "AE" + std::to_string(Pick(1, 4));
        if (grade == 5) {
          return at({kCoord, S(sid), AeReported(id, 5, {v1::SERIOUSNESS_CRITERION_DEATH}, v1::AE_OUTCOME_FATAL)});
        }
        return at({kCoord, S(sid), Pick(0, 2) ? AeReported(id, grade)
                                              : AeReported(id, grade, {v1::SERIOUSNESS_CRITERION_HOSPITALIZATION})});
      }
      case 17: {
        const std::string id = "AE" + std::to_string(Pick(1, 4));
        switch (Pick(0, 2)) {
          case 0: return at({kCoord, S(sid), AeUpdated(id, static_cast<uint32_t>(Pick(1, 4)))});
          case 1: return at({kCoord, S(sid), AeResolved(id)});
          default: return at({kInv, S(sid), SaeReported(id, t + 3600LL * 1000000 * Pick(1, 40))});
        }
      }
      case 18:
      case 19: {
        std::vector<L> lesions = {{"T1", static_cast<uint32_t>(Pick(0, 700))}, {"T2", static_cast<uint32_t>(Pick(0, 400))}};
        return at({kRad, S(sid), Tumour(false, lesions, v1::NON_TARGET_STATUS_UNSPECIFIED, Pick(0, 9) == 0)});
      }
      case 20: {
        const std::string w = std::to_string(Pick(12000, 60000));
        auto& ms = measurements_[sid];
        if (ms.empty()) return at({kCoord, S(sid), Correct(any_record(), "body_measurement.weight_g", "1", w), 0, "x"});
        const std::string target = ms[static_cast<size_t>(Pick(0, static_cast<int>(ms.size()) - 1))];
        return at({kCoord, S(sid), Correct(target, "body_measurement.weight_g", weight_[target], w), 0,
                   Pick(0, 5) ? "transcription error" : ""});
      }
      case 21: return at({kCoord, S(sid), Void(any_record()), 0, "entered in error"});
      case 22:
        switch (Pick(0, 2)) {
          case 0: return at({kMon, S(sid), QueryOpened("Q" + std::to_string(Pick(1, 3)), any_record())});
          case 1: return at({kCoord, S(sid), QueryAnswered("Q" + std::to_string(Pick(1, 3)))});
          default: return at({kMon, S(sid), QueryClosed("Q" + std::to_string(Pick(1, 3)))});
        }
      case 23:
        if (h_.sm.locked()) return at({kAdmin, "trial", Unlocked(), 0, Pick(0, 5) ? "reopened" : ""});
        if (Pick(0, 3) == 0) return at({kAdmin, "trial", Locked()});
        return at({kCoord, S(sid), Measure(static_cast<uint32_t>(Pick(900, 1700)), static_cast<uint32_t>(Pick(12000, 60000)))});
      case 24:
        switch (Pick(0, 3)) {
          case 0: return at({kInv, S(sid), Eot(v1::DISPOSITION_REASON_ADVERSE_EVENT)});
          case 1: return at({kInv, S(sid), Eos(v1::DISPOSITION_REASON_COMPLETED)});
          case 2: return at({kInv, S(sid), Withdrawn(v1::WITHDRAWAL_SCOPE_TREATMENT_ONLY)});
          default: return at({kInv, S(sid), Reconsent(p.icf_version())});
        }
      default:
        if (p.version() == 1 && Pick(0, 3) == 0) return at({kAdmin, "trial", Amended(ImtCrizotinibProtocolV2())});
        return at({kAdmin, "trial", SiteActivated("RU-01", {"ICF-1.0", "ICF-2.0"})});
    }
  }

  // Remembers what an accepted attempt created.
  void Accepted(const Attempt& a, const std::string& event_id) {
    const std::string sid = a.stream.size() > 8 ? a.stream.substr(8) : "";
    if (!sid.empty()) records_[sid].push_back(event_id);
    if (a.event.has_body_measurement()) {
      measurements_[sid].push_back(event_id);
      weight_[event_id] = std::to_string(a.event.body_measurement().weight_g());
    }
    if (a.event.has_data_corrected()) weight_[a.event.data_corrected().target_event_id()] = a.event.data_corrected().new_value();
    if (a.event.has_eligibility_assessed()) elig_[sid] = event_id;
  }

 private:
  int Pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  Harness& h_;
  std::mt19937_64 rng_;
  int day_ = 0;
  int64_t tick_ = 0;
  std::map<std::string, std::vector<std::string>> records_;
  std::map<std::string, std::vector<std::string>> measurements_;
  std::map<std::string, std::string> weight_;  // measurement event id -> current weight_g
  std::map<std::string, std::string> elig_;
};

std::string Replayed(const std::vector<ledger::ParsedEntry>& entries, size_t from,
                     std::unique_ptr<TrialStateMachine> machine = nullptr) {
  if (!machine) machine = std::make_unique<TrialStateMachine>();
  for (size_t i = from; i < entries.size(); ++i) machine->Apply(entries[i]);
  return machine->Snapshot();
}

void ExpectSameProjections(const TrialStateMachine& a, const TrialStateMachine& b) {
  ASSERT_EQ(a.SubjectIds(), b.SubjectIds());
  for (const std::string& sid : a.SubjectIds()) {
    EXPECT_EQ(DeterministicBytes(*a.Subject(sid)), DeterministicBytes(*b.Subject(sid))) << sid;
  }
  EXPECT_EQ(DeterministicBytes(a.Summary()), DeterministicBytes(b.Summary()));
}

// Live state vs replays, from scratch and from snapshots taken live.
void CheckReplays(const Harness& h, const std::map<uint64_t, std::string>& live_snapshots) {
  const std::vector<ledger::ParsedEntry>& entries = h.entries();
  const std::string live = h.sm.Snapshot();
  EXPECT_EQ(Replayed(entries, 0), live);
  VectorEntrySource source(&entries);
  absl::StatusOr<std::unique_ptr<TrialStateMachine>> full = StateAsOfEntry(source, entries.size() - 1);
  ASSERT_TRUE(full.ok()) << full.status();
  ExpectSameProjections(h.sm, **full);
  for (const auto& [index, bytes] : live_snapshots) {
    SCOPED_TRACE(index);
    // As of entry `index`, by replay from scratch, equals the live state then.
    absl::StatusOr<std::unique_ptr<TrialStateMachine>> as_of = StateAsOfEntry(source, index);
    ASSERT_TRUE(as_of.ok()) << as_of.status();
    EXPECT_EQ((*as_of)->Snapshot(), bytes);
    // A restart from the snapshot, then the rest of the entries, equals live.
    absl::StatusOr<std::unique_ptr<TrialStateMachine>> restored = TrialStateMachine::FromSnapshot(bytes);
    ASSERT_TRUE(restored.ok()) << restored.status();
    EXPECT_EQ(Replayed(entries, index + 1, std::move(*restored)), live);
  }
  // "As of N" through the nearest snapshot equals a replay from scratch.
  ReplayOptions with_snapshots;
  with_snapshots.snapshots = &live_snapshots;
  for (uint64_t n = 0; n < entries.size(); n += 1 + entries.size() / 23) {
    absl::StatusOr<std::unique_ptr<TrialStateMachine>> fast = StateAsOfEntry(source, n, with_snapshots);
    absl::StatusOr<std::unique_ptr<TrialStateMachine>> slow = StateAsOfEntry(source, n);
    ASSERT_TRUE(fast.ok() && slow.ok());
    EXPECT_EQ((*fast)->Snapshot(), (*slow)->Snapshot()) << n;
  }
}

TEST(Replay, RandomValidSequencesReplayByteForByte) {
  int total_accepted = 0;
  std::map<int, int> kinds;
  for (uint64_t seed = 1; seed <= 16; ++seed) {
    SCOPED_TRACE(seed);
    Harness h;
    Sites(h);
    RandomWalk walk(&h, seed);
    std::mt19937_64 pick(seed * 7919);
    std::map<uint64_t, std::string> snapshots;
    for (int i = 0; i < 500; ++i) {
      Attempt a = walk.Propose();
      v1::Envelope env = h.Envelope(a);
      if (!h.AppendEnvelope(env).ok()) continue;
      walk.Accepted(a, env.event_id());
      ++total_accepted;
      ++kinds[a.event.kind_case()];
      if (pick() % 25 == 0) snapshots[h.sm.last_index()] = h.sm.Snapshot();
    }
    CheckReplays(h, snapshots);
  }
  // The walk must actually exercise the rules, not just register subjects.
  EXPECT_GT(total_accepted, 16 * 150);
  using K = v1::TrialEvent;
  for (int k : {K::kEnrolled, K::kDosePrescribed, K::kDoseAdministered, K::kDoseModified, K::kAeReported,
                K::kAeUpdated, K::kSaeReported, K::kTumourAssessment, K::kDataCorrected, K::kEventVoided,
                K::kESignature, K::kQueryClosed, K::kDatabaseLocked, K::kDatabaseUnlocked, K::kProtocolAmended,
                K::kEndOfStudy, K::kConsentWithdrawn}) {
    EXPECT_GT(kinds[k], 0) << "the walk never got a " << K::descriptor()->FindFieldByNumber(k)->name() << " accepted";
  }
}

TEST(Replay, SyntheticTrialReplaysByteForByte) {
  absl::StatusOr<SyntheticTrialPlan> plan = SyntheticTrial(2026, 20);
  ASSERT_TRUE(plan.ok());
  Harness h(plan->protocol);
  std::map<uint64_t, std::string> snapshots;
  RunPlan(h, *plan, [&] {
    if (h.sm.last_index() % 97 == 0) snapshots[h.sm.last_index()] = h.sm.Snapshot();
  });
  ASSERT_GT(snapshots.size(), 5u);
  CheckReplays(h, snapshots);
  // An auditor's replay with the rules on accepts every stored entry.
  VectorEntrySource source(&h.entries());
  ReplayOptions check;
  check.check_rules = true;
  EXPECT_TRUE(StateAsOfEntry(source, h.entries().size() - 1, check).ok());
}

TEST(Replay, CheckedReplayFindsAnEntryThatBreaksARule) {
  Harness h;
  Sites(h);
  Bring(h, "S1", Stage::kDosed);
  std::vector<ledger::ParsedEntry> entries = h.entries();
  // Forge an entry the sequencer would have refused: a dose above the cap.
  ledger::ParsedEntry bad = entries.back();
  bad.entry.set_index(entries.size());
  *bad.envelope.mutable_event()->mutable_trial() = Administer(400);
  entries.push_back(bad);
  VectorEntrySource source(&entries);
  ReplayOptions check;
  check.check_rules = true;
  absl::StatusOr<std::unique_ptr<TrialStateMachine>> r = StateAsOfEntry(source, entries.size() - 1, check);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("entry " + std::to_string(entries.size() - 1) + ": rule dose."),
            std::string::npos)
      << r.status();
  EXPECT_TRUE(StateAsOfEntry(source, entries.size() - 1).ok());  // unchecked replay folds it
}

TEST(Replay, AsOfTimePicksTheLastEntryRecordedBefore) {
  Harness h;
  Sites(h);
  Bring(h, "S1", Stage::kEnrolled);
  VectorEntrySource source(&h.entries());
  const uint64_t n = h.entries().size();
  EXPECT_EQ(*LastEntryAtOrBefore(source, Harness::RecordedAt(5)), 5u);
  EXPECT_EQ(*LastEntryAtOrBefore(source, Harness::RecordedAt(5) - 1), 4u);
  EXPECT_EQ(*LastEntryAtOrBefore(source, Harness::RecordedAt(n - 1) + 1000000000), n - 1);
  EXPECT_EQ(LastEntryAtOrBefore(source, Harness::RecordedAt(0) - 1).status().code(), absl::StatusCode::kNotFound);
  // Entries 0..5 are genesis, two site activations, registration, consent, assent.
  absl::StatusOr<std::unique_ptr<TrialStateMachine>> at5 = StateAsOfTime(source, Harness::RecordedAt(5) + 10);
  ASSERT_TRUE(at5.ok());
  EXPECT_EQ((*at5)->last_index(), 5u);
  EXPECT_EQ((*at5)->Subject("S1")->phase(), v1::SUBJECT_PHASE_CONSENTED);
  EXPECT_EQ(h.sm.Subject("S1")->phase(), v1::SUBJECT_PHASE_ENROLLED);
  EXPECT_EQ(StateAsOfEntry(source, n).status().code(), absl::StatusCode::kNotFound);
}

TEST(Snapshot, RejectsGarbageAndTampering) {
  Harness h;
  Sites(h);
  Bring(h, "S1", Stage::kDosed);
  EXPECT_EQ(TrialStateMachine::FromSnapshot("\xff\xff garbage").status().code(), absl::StatusCode::kInvalidArgument);
  v1::TrialMachineSnapshot snap;
  ASSERT_TRUE(snap.ParseFromString(h.sm.Snapshot()));
  snap.set_format(9);
  EXPECT_EQ(TrialStateMachine::FromSnapshot(snap.SerializeAsString()).status().code(),
            absl::StatusCode::kInvalidArgument);
  snap.set_format(1);
  snap.mutable_subjects(0)->mutable_state()->mutable_dosing()->set_cumulative_mg(999999);
  absl::Status tampered = TrialStateMachine::FromSnapshot(snap.SerializeAsString()).status();
  EXPECT_EQ(tampered.code(), absl::StatusCode::kDataLoss) << tampered;
  // A snapshot filed under the wrong key.
  std::map<uint64_t, std::string> wrong = {{3, h.sm.Snapshot()}};
  VectorEntrySource source(&h.entries());
  ReplayOptions options;
  options.snapshots = &wrong;
  EXPECT_EQ(StateAsOfEntry(source, 5, options).status().code(), absl::StatusCode::kDataLoss);
}

TEST(Replay, ProtocolFromGenesisOrConstructorGivesTheSameState) {
  Harness h;
  Sites(h);
  Bring(h, "S1", Stage::kDosed);
  TrialStateMachine configured(ImtCrizotinibProtocol());
  for (const ledger::ParsedEntry& e : h.entries()) configured.Apply(e);
  EXPECT_EQ(configured.Snapshot(), h.sm.Snapshot());
}

}  // namespace
}  // namespace trialog::trial::testing

namespace trialog::trial::testing {
namespace {

// Malformed input never crashes Check or Apply, and the state stays
// snapshot-consistent: payloads of a real trial with random bytes flipped
// are checked by the live machine and folded, unchecked, into another one
// (what a verifier replaying a damaged ledger does).
TEST(Robustness, MutatedPayloadsNeverCrashCheckOrApply) {
  absl::StatusOr<SyntheticTrialPlan> plan = SyntheticTrial(3, 13);
  ASSERT_TRUE(plan.ok());
  Harness h(plan->protocol);
  RunPlan(h, *plan);
  std::mt19937_64 rng(20261128);
  TrialStateMachine unchecked;
  int parsed = 0, refused = 0;
  for (int round = 0; round < 3; ++round) {
    for (const ledger::ParsedEntry& original : h.entries()) {
      ledger::ParsedEntry e = original;
      if (e.envelope.event().has_trial()) {
        std::string bytes = e.envelope.event().trial().SerializeAsString();
        if (!bytes.empty()) {
          for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k) {
            bytes[rng() % bytes.size()] ^= static_cast<char>(1 << (rng() % 8));
          }
        }
        v1::TrialEvent mutated;
        if (!mutated.ParseFromString(bytes)) continue;
        ++parsed;
        *e.envelope.mutable_event()->mutable_trial() = mutated;
      }
      if (rng() % 5 == 0) e.envelope.set_stream_id(rng() % 2 ? "trial" : "subject/" + std::to_string(rng() % 5));
      refused += !h.sm.Check({e.envelope, h.next_index(), 1, 1}).ok();
      (void)unchecked.Check({e.envelope, e.entry.index(), 1, 1});
      unchecked.Apply(e);
    }
  }
  EXPECT_GT(parsed, 500);
  EXPECT_GT(refused, 100);
  (void)unchecked.Summary();
  absl::StatusOr<std::unique_ptr<TrialStateMachine>> restored = TrialStateMachine::FromSnapshot(unchecked.Snapshot());
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ((*restored)->Snapshot(), unchecked.Snapshot());
}

}  // namespace
}  // namespace trialog::trial::testing
