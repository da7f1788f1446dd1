// The trial domain on the real ledger: the synthetic trial signed with real
// Ed25519 keys, built into entries the way the sequencer builds them, checked
// by ledger::ChainVerifier with the principal registry and TrialStateMachine
// (what the demo and the auditor's verifier do).

#include <map>
#include <string>
#include <vector>

#include "core/crypto/crypto.h"
#include "core/ledger/chain_verifier.h"
#include "core/ledger/entry.h"
#include "core/ledger/envelope_signer.h"
#include "core/trial/state_machine.h"
#include "core/trial/synthetic_trial.h"
#include "gtest/gtest.h"

namespace trialog::trial {
namespace {

class SignedLedger {
 public:
  explicit SignedLedger(const SyntheticTrialPlan& plan) : plan_(plan), verifier_({&trial_}) {}

  crypto::SigningKey& Key(const std::string& principal_id) {
    auto it = keys_.find(principal_id);
    if (it == keys_.end()) {
      it = keys_.emplace(principal_id, *crypto::SigningKey::FromSeed(crypto::Sha256("demo-key/" + principal_id))).first;
    }
    return it->second;
  }

  v1::PrincipalRegistered Registration(const v1::Actor& a) {
    v1::PrincipalRegistered r;
    r.set_principal_id(a.principal_id());
    r.set_printed_name(a.printed_name());
    r.set_role(a.role());
    r.set_site_id(a.site_id());
    r.set_public_key(Key(a.principal_id()).public_key());
    return r;
  }

  v1::Envelope Envelope(const v1::Actor& actor, const std::string& stream, v1::Event event) {
    v1::Envelope env;
    env.set_trial_id(plan_.trial_id);
    env.set_stream_id(stream);
    env.set_event_id(ledger::NewEventId());
    env.mutable_observed_at()->set_unix_micros(1736740800000000LL);
    env.mutable_observed_at()->set_utc_offset_minutes(180);
    *env.mutable_actor() = actor;
    *env.mutable_event() = std::move(event);
    return env;
  }

  // Builds the next entry around `env` signed by its actor's key and offers
  // it to the verifier (which runs the registry and the trial rules); keeps
  // it when accepted.
  absl::Status Append(const v1::Envelope& env) {
    v1::Entry e;
    e.set_index(verifier_.size());
    e.set_prev_leaf_hash(verifier_.head());
    e.set_recorded_at_unix_micros(1760000000000000LL + static_cast<int64_t>(verifier_.size()) * 1000);
    e.set_stream_version(versions_[env.stream_id()] + 1);
    *e.mutable_signed_envelope() = ledger::SignEnvelope(env, Key(env.actor().principal_id()));
    const std::string bytes = ledger::SerializeEntry(e);
    absl::Status s = verifier_.Add(bytes);
    if (s.ok()) {
      ++versions_[env.stream_id()];
      entries_.push_back(bytes);
    }
    return s;
  }

  const std::vector<std::string>& entries() const { return entries_; }
  const TrialStateMachine& trial() const { return trial_; }

 private:
  const SyntheticTrialPlan& plan_;
  TrialStateMachine trial_;
  ledger::ChainVerifier verifier_;
  std::map<std::string, crypto::SigningKey> keys_;
  std::map<std::string, uint64_t> versions_;
  std::vector<std::string> entries_;
};

TEST(LedgerIntegration, SignedSyntheticTrialVerifiesEndToEnd) {
  absl::StatusOr<SyntheticTrialPlan> plan = SyntheticTrial(42, 20);
  ASSERT_TRUE(plan.ok());
  SignedLedger ledger(*plan);
  v1::Event genesis;
  genesis.mutable_genesis()->set_ledger_origin(plan->ledger_origin);
  genesis.mutable_genesis()->set_trial_title(plan->protocol.title());
  *genesis.mutable_genesis()->mutable_first_admin() = ledger.Registration(plan->admin);
  *genesis.mutable_genesis()->mutable_protocol() = plan->protocol;
  ASSERT_TRUE(ledger.Append(ledger.Envelope(plan->admin, "principals", genesis)).ok());
  for (const v1::Actor& p : plan->principals) {
    v1::Event reg;
    *reg.mutable_principal_registered() = ledger.Registration(p);
    absl::Status s = ledger.Append(ledger.Envelope(plan->admin, "principals", reg));
    ASSERT_TRUE(s.ok()) << s;
  }
  int refused = 0;
  for (const SyntheticStep& step : plan->steps) {
    v1::Envelope env = ledger.Envelope(step.actor, step.stream_id, step.event);
    env.set_event_id(step.event_id);
    *env.mutable_observed_at() = step.observed_at;
    env.set_reason(step.reason);
    if (step.needs_signature_hashes) {
      ASSERT_TRUE(ledger.trial()
                      .FillSignatureHashes(step.stream_id, env.mutable_event()->mutable_trial()->mutable_e_signature())
                      .ok());
    }
    absl::Status s = ledger.Append(env);
    if (step.expect_refused) {
      ++refused;
      EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
      EXPECT_NE(s.message().find("rule " + step.expected_rule + ":"), std::string::npos) << s;
    } else {
      ASSERT_TRUE(s.ok()) << step.description << ": " << s;
    }
  }
  EXPECT_EQ(refused, 1);

  // An auditor re-verifies every stored entry from the bytes alone and gets
  // the same trial state byte for byte.
  TrialStateMachine replayed;
  ledger::ChainVerifier auditor({&replayed});
  for (const std::string& bytes : ledger.entries()) {
    absl::Status s = auditor.Add(bytes);
    ASSERT_TRUE(s.ok()) << s;
  }
  EXPECT_EQ(replayed.Snapshot(), ledger.trial().Snapshot());
  EXPECT_EQ(replayed.Summary().orr().numerator(), 8u);
}

TEST(LedgerIntegration, AuditorFindsAForgedEntryThatBreaksATrialRule) {
  absl::StatusOr<SyntheticTrialPlan> plan = SyntheticTrial(5, 13);
  ASSERT_TRUE(plan.ok());
  SignedLedger ledger(*plan);
  v1::Event genesis;
  genesis.mutable_genesis()->set_ledger_origin(plan->ledger_origin);
  *genesis.mutable_genesis()->mutable_first_admin() = ledger.Registration(plan->admin);
  *genesis.mutable_genesis()->mutable_protocol() = plan->protocol;
  ASSERT_TRUE(ledger.Append(ledger.Envelope(plan->admin, "principals", genesis)).ok());
  for (const v1::Actor& p : plan->principals) {
    v1::Event reg;
    *reg.mutable_principal_registered() = ledger.Registration(p);
    ASSERT_TRUE(ledger.Append(ledger.Envelope(plan->admin, "principals", reg)).ok());
  }
  size_t planted = 0;
  for (size_t i = 0; i < plan->steps.size(); ++i) {
    const SyntheticStep& step = plan->steps[i];
    if (step.expect_refused) {
      planted = i;
      break;
    }
    v1::Envelope env = ledger.Envelope(step.actor, step.stream_id, step.event);
    env.set_event_id(step.event_id);
    *env.mutable_observed_at() = step.observed_at;
    env.set_reason(step.reason);
    if (step.needs_signature_hashes) {
      ASSERT_TRUE(ledger.trial()
                      .FillSignatureHashes(step.stream_id, env.mutable_event()->mutable_trial()->mutable_e_signature())
                      .ok());
    }
    ASSERT_TRUE(ledger.Append(env).ok()) << step.description;
  }
  ASSERT_GT(planted, 0u);
  // A sponsor bypassing the sequencer writes the refused prescription anyway:
  // a well-formed, correctly signed and chained entry.
  std::vector<std::string> forged = ledger.entries();
  const SyntheticStep& bad = plan->steps[planted];
  v1::Envelope env;
  env.set_trial_id(plan->trial_id);
  env.set_stream_id(bad.stream_id);
  env.set_event_id(bad.event_id);
  *env.mutable_observed_at() = bad.observed_at;
  *env.mutable_actor() = bad.actor;
  *env.mutable_event() = bad.event;
  ledger::ChainVerifier chain;  // chain and signatures only, to build the forgery's links
  for (const std::string& b : forged) ASSERT_TRUE(chain.Add(b).ok());
  v1::Entry e;
  e.set_index(forged.size());
  e.set_prev_leaf_hash(chain.head());
  e.set_recorded_at_unix_micros(1760000000000000LL + static_cast<int64_t>(forged.size()) * 1000);
  uint64_t version = 0;
  for (const std::string& b : forged) {
    absl::StatusOr<ledger::ParsedEntry> p = ledger::ParseEntry(b);
    if (p.ok() && p->envelope.stream_id() == bad.stream_id) ++version;
  }
  e.set_stream_version(version + 1);
  *e.mutable_signed_envelope() =
      ledger::SignEnvelope(env, *crypto::SigningKey::FromSeed(crypto::Sha256("demo-key/" + bad.actor.principal_id())));
  forged.push_back(ledger::SerializeEntry(e));
  ASSERT_TRUE(chain.Add(forged.back()).ok());  // the generic ledger alone cannot tell

  TrialStateMachine replayed;
  ledger::ChainVerifier auditor({&replayed});
  absl::Status last;
  for (const std::string& b : forged) {
    last = auditor.Add(b);
    if (!last.ok()) break;
  }
  EXPECT_EQ(last.code(), absl::StatusCode::kFailedPrecondition) << last;
  EXPECT_NE(last.message().find("entry " + std::to_string(forged.size() - 1) + ":"), std::string::npos) << last;
  EXPECT_NE(last.message().find("rule dose.cap"), std::string::npos) << last;
}

}  // namespace
}  // namespace trialog::trial
