#include "tests/server/synthetic_driver.h"

#include <map>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "core/crypto/crypto.h"
#include "core/ledger/chain_verifier.h"
#include "core/trial/state_machine.h"
#include "core/trial/synthetic_trial.h"

namespace trialog::testing {
namespace {

v1::PrincipalRegistered Registration(const v1::Actor& actor, const crypto::SigningKey& key) {
  v1::PrincipalRegistered r;
  r.set_principal_id(actor.principal_id());
  r.set_printed_name(actor.printed_name());
  r.set_role(actor.role());
  r.set_site_id(actor.site_id());
  r.set_public_key(key.public_key());
  return r;
}

}  // namespace

absl::StatusOr<SyntheticRun> RunSyntheticTrial(const std::string& target,
                                               const std::string& trial_id,
                                               const std::string& verifier_key, uint64_t seed,
                                               int subjects) {
  absl::StatusOr<trial::SyntheticTrialPlan> plan = trial::SyntheticTrial(seed, subjects);
  if (!plan.ok()) return plan.status();
  const std::string origin = verifier_key.substr(0, verifier_key.find('+'));

  client::ChannelOptions channel_options;
  channel_options.target = target;
  channel_options.plaintext = true;
  absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels =
      client::MakeChannels(channel_options);
  if (!channels.ok()) return channels.status();
  absl::StatusOr<std::unique_ptr<client::LedgerClient>> ledger =
      client::LedgerClient::Create(*channels, trial_id, verifier_key);
  if (!ledger.ok()) return ledger.status();

  // A local replica only for the record hashes signatures must carry.
  trial::TrialStateMachine local;
  ledger::ChainVerifier replica({&local}, /*check_signatures=*/false);
  std::map<std::string, client::Signer> signers;
  std::map<std::string, crypto::SigningKey> keys;
  auto key_for = [&](const std::string& id) -> const crypto::SigningKey& {
    auto it = keys.find(id);
    if (it == keys.end()) it = keys.emplace(id, crypto::SigningKey::Generate()).first;
    return it->second;
  };
  SyntheticRun run;
  auto append = [&](const v1::Actor& actor, v1::Envelope envelope) -> absl::Status {
    auto it = signers.find(actor.principal_id());
    if (it == signers.end()) {
      it = signers.emplace(actor.principal_id(), client::Signer(actor, key_for(actor.principal_id())))
               .first;
    }
    absl::StatusOr<client::VerifiedAppend> r =
        (*ledger)->Append(it->second.Sign(trial_id, std::move(envelope)));
    if (!r.ok()) return r.status();
    if (absl::Status s = replica.Add(r->entry.bytes); !s.ok()) return s;
    run.entries = r->index + 1;
    return absl::OkStatus();
  };

  {
    v1::Envelope e;
    e.set_stream_id("principals");
    v1::Genesis* g = e.mutable_event()->mutable_genesis();
    g->set_ledger_origin(origin);
    g->set_trial_title("synthetic trial (test)");
    *g->mutable_first_admin() = Registration(plan->admin, key_for(plan->admin.principal_id()));
    *g->mutable_protocol() = plan->protocol;
    if (absl::Status s = append(plan->admin, e); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("genesis: ", s.message()));
    }
  }
  for (const v1::Actor& p : plan->principals) {
    v1::Envelope e;
    e.set_stream_id("principals");
    *e.mutable_event()->mutable_principal_registered() =
        Registration(p, key_for(p.principal_id()));
    if (absl::Status s = append(plan->admin, e); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("registering ", p.principal_id(), ": ", s.message()));
    }
  }
  for (size_t i = 0; i < plan->steps.size(); ++i) {
    const trial::SyntheticStep& step = plan->steps[i];
    v1::Envelope e;
    e.set_stream_id(step.stream_id);
    e.set_event_id(step.event_id);
    *e.mutable_event() = step.event;
    *e.mutable_observed_at() = step.observed_at;
    e.set_reason(step.reason);
    if (step.needs_signature_hashes) {
      absl::Status s = local.FillSignatureHashes(
          step.stream_id, e.mutable_event()->mutable_trial()->mutable_e_signature());
      if (!s.ok()) return absl::Status(s.code(), absl::StrCat("step ", i, ": ", s.message()));
    }
    absl::Status s = append(step.actor, e);
    if (step.expect_refused) {
      if (s.code() != absl::StatusCode::kFailedPrecondition ||
          s.message().find(step.expected_rule) == absl::string_view::npos) {
        return absl::InternalError(absl::StrCat("planted violation (", step.description,
                                                ") not refused by ", step.expected_rule, ": ",
                                                s.ToString()));
      }
      ++run.refused;
      continue;
    }
    if (!s.ok()) {
      return absl::Status(s.code(),
                          absl::StrCat("step ", i, " (", step.description, "): ", s.message()));
    }
  }
  return run;
}

}  // namespace trialog::testing
