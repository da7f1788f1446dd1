// trialog demo: drives a running trialogd with the deterministic synthetic
// IMT crizotinib trial (core/trial/synthetic_trial.h) through the client
// library, as the trial's services would: every envelope signed by its
// principal's key, every receipt verified, the one planted rule violation
// refused. Keys are derived from the seed: demo use only.

#include <iostream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/client.h"
#include "core/crypto/crypto.h"
#include "core/ledger/chain_verifier.h"
#include "core/note/keys.h"
#include "core/trial/state_machine.h"
#include "core/trial/synthetic_trial.h"
#include "core/util/bytes.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "tools/trialog/cli_util.h"
#include "tools/trialog/commands.h"

namespace trialog::cli {
namespace {

// A demo principal's key: SHA-256 of a label, the seed and the id. Never
// use outside demos: anyone who knows the seed can sign.
crypto::SigningKey DemoKey(uint64_t seed, const std::string& principal_id) {
  absl::StatusOr<crypto::SigningKey> key = crypto::SigningKey::FromSeed(
      crypto::Sha256(absl::StrCat("trialog demo key -- NOT FOR PRODUCTION|", seed, "|",
                                  principal_id)));
  return *std::move(key);
}

v1::PrincipalRegistered Registration(const v1::Actor& actor, const crypto::SigningKey& key) {
  v1::PrincipalRegistered r;
  r.set_principal_id(actor.principal_id());
  r.set_printed_name(actor.printed_name());
  r.set_role(actor.role());
  r.set_site_id(actor.site_id());
  r.set_public_key(key.public_key());
  return r;
}

std::string Pct(uint32_t bp) { return absl::StrFormat("%.1f%%", bp / 100.0); }

}  // namespace

void RegisterDemo(CLI::App& app, int* exit_code) {
  struct Flags {
    std::string server, key, summary_json;
    bool plaintext = false;
    uint64_t seed = 42;
    int subjects = 20;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "Run the synthetic paediatric IMT crizotinib trial against a running trialogd: genesis with\n"
      "the protocol, principals, ~20 subjects over simulated months (consent and assent, screen\n"
      "failures, BSA-based dosing, adverse events of every grade, RECIST assessments, corrections,\n"
      "e-signatures, a withdrawal, a lock and unlock) and one planted rule violation that the\n"
      "server must refuse. Deterministic for a seed. Keys are derived from the seed (demo only).\n"
      "Example:\n"
      "  trialog demo --server 127.0.0.1:7443 --plaintext --key @out/ledger.vkey --seed 42");
  cmd->add_option("--server", flags->server, "trialogd address, HOST:PORT")->required();
  cmd->add_flag("--plaintext", flags->plaintext, "No TLS (loopback only)");
  cmd->add_option("--key", flags->key,
                  "The trial's checkpoint verifier key (name+id+base64), or @FILE; its name is "
                  "the ledger origin")
      ->required();
  cmd->add_option("--seed", flags->seed, "Random seed of the synthetic trial");
  cmd->add_option("--subjects", flags->subjects, "Number of subjects (13..500)");
  cmd->add_option("--summary-json", flags->summary_json, "Also write the trial summary as JSON here");
  cmd->callback([flags, exit_code] {
    auto fail = [&](int code, absl::string_view message) {
      std::cerr << "trialog demo: " << message << "\n";
      *exit_code = code;
    };
    absl::StatusOr<std::string> vkey_text = ValueOrFile(flags->key);
    if (!vkey_text.ok()) return fail(kExitUsage, vkey_text.status().message());
    absl::StatusOr<note::Verifier> vkey = note::ParseVerifierKey(*vkey_text);
    if (!vkey.ok()) return fail(kExitUsage, vkey.status().message());
    absl::StatusOr<trial::SyntheticTrialPlan> plan =
        trial::SyntheticTrial(flags->seed, flags->subjects);
    if (!plan.ok()) return fail(kExitUsage, plan.status().message());
    // The ledger origin is "<ledger name>/<trial id>" = the verifier key's name.
    const std::string origin = vkey->name;
    const std::string trial_id = origin.substr(origin.rfind('/') + 1);

    client::ChannelOptions channel_options;
    channel_options.target = flags->server;
    channel_options.plaintext = flags->plaintext;
    absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels =
        client::MakeChannels(channel_options);
    if (!channels.ok()) return fail(kExitUsage, channels.status().message());
    absl::StatusOr<std::unique_ptr<client::LedgerClient>> ledger =
        client::LedgerClient::Create(*channels, trial_id, *vkey_text);
    if (!ledger.ok()) return fail(kExitError, ledger.status().message());

    // Local replica of the trial state, fed with every verified entry, for
    // the signature-record hashes and for cross-checking the server.
    trial::TrialStateMachine local_trial;
    ledger::ChainVerifier replica({&local_trial}, /*check_signatures=*/true);

    std::map<std::string, client::Signer> signers;
    auto signer_for = [&](const v1::Actor& actor) -> const client::Signer& {
      auto it = signers.find(actor.principal_id());
      if (it == signers.end()) {
        it = signers
                 .emplace(actor.principal_id(),
                          client::Signer(actor, DemoKey(flags->seed, actor.principal_id())))
                 .first;
      }
      return it->second;
    };
    uint64_t appended = 0, refused_as_planned = 0;
    auto append = [&](const v1::Actor& actor, v1::Envelope envelope) -> absl::Status {
      v1::SignedEnvelope signed_envelope = signer_for(actor).Sign(trial_id, std::move(envelope));
      absl::StatusOr<client::VerifiedAppend> result = (*ledger)->Append(signed_envelope);
      if (!result.ok()) return result.status();
      if (result->index != replica.size()) {
        return absl::DataLossError(absl::StrCat("server put the entry at ", result->index,
                                                ", the local replica expected ", replica.size()));
      }
      if (absl::Status s = replica.Add(result->entry.bytes); !s.ok()) {
        return absl::DataLossError(absl::StrCat("local replay refused the server's entry: ",
                                                s.message()));
      }
      ++appended;
      return absl::OkStatus();
    };

    // Genesis, then the principals.
    {
      const crypto::SigningKey admin_key = DemoKey(flags->seed, plan->admin.principal_id());
      v1::Envelope e;
      e.set_stream_id("principals");
      v1::Genesis* g = e.mutable_event()->mutable_genesis();
      g->set_ledger_origin(origin);
      g->set_trial_title("Crizotinib 280 mg/m2 BID in paediatric ALK/ROS1-rearranged IMT (demo)");
      *g->mutable_first_admin() = Registration(plan->admin, admin_key);
      *g->mutable_protocol() = plan->protocol;
      if (absl::Status s = append(plan->admin, e); !s.ok()) {
        return fail(kExitError, absl::StrCat("genesis: ", s.message()));
      }
    }
    for (const v1::Actor& p : plan->principals) {
      v1::Envelope e;
      e.set_stream_id("principals");
      *e.mutable_event()->mutable_principal_registered() =
          Registration(p, DemoKey(flags->seed, p.principal_id()));
      if (absl::Status s = append(plan->admin, e); !s.ok()) {
        return fail(kExitError, absl::StrCat("registering ", p.principal_id(), ": ", s.message()));
      }
    }
    std::cout << "trial " << trial_id << ": genesis and " << plan->principals.size()
              << " principals registered\n";

    ProgressBar bar("appending");
    for (size_t i = 0; i < plan->steps.size(); ++i) {
      const trial::SyntheticStep& step = plan->steps[i];
      v1::Envelope e;
      e.set_stream_id(step.stream_id);
      e.set_event_id(step.event_id);
      *e.mutable_event() = step.event;
      *e.mutable_observed_at() = step.observed_at;
      e.set_reason(step.reason);
      if (step.needs_signature_hashes) {
        v1::ESignature* sig = e.mutable_event()->mutable_trial()->mutable_e_signature();
        if (absl::Status s = local_trial.FillSignatureHashes(step.stream_id, sig); !s.ok()) {
          return fail(kExitError, absl::StrCat("step ", i, " (", step.description, "): ",
                                               s.message()));
        }
      }
      absl::Status s = append(step.actor, e);
      if (step.expect_refused) {
        bar.Clear();
        if (s.code() != absl::StatusCode::kFailedPrecondition ||
            s.message().find(step.expected_rule) == absl::string_view::npos) {
          return fail(kExitError, absl::StrCat("planted violation (", step.description,
                                               ") was not refused by rule ", step.expected_rule,
                                               "; got: ", s.ToString()));
        }
        std::cout << "refused as planned: " << step.description << "\n    "
                  << s.ToString() << "\n";
        ++refused_as_planned;
        continue;
      }
      if (!s.ok()) {
        bar.Finish();
        return fail(kExitError,
                    absl::StrCat("step ", i, " (", step.description, "): ", s.ToString()));
      }
      bar.Update(i + 1, plan->steps.size());
    }
    bar.Finish();
    absl::StatusOr<note::Checkpoint> checkpoint = (*ledger)->RefreshCheckpoint();
    if (!checkpoint.ok()) return fail(kExitError, checkpoint.status().message());
    if (checkpoint->root_hash != replica.root() || checkpoint->size != replica.size()) {
      return fail(kExitError, "the server's checkpoint differs from the local replica's tree");
    }

    const v1::TrialSummary summary = local_trial.Summary();
    std::cout << absl::StrFormat(
        "%llu entries appended, every receipt verified; %llu planted violation refused\n"
        "checkpoint: size %llu, root %s (matches the local replay)\n\n",
        static_cast<unsigned long long>(appended),
        static_cast<unsigned long long>(refused_as_planned),
        static_cast<unsigned long long>(checkpoint->size), Base64Encode(checkpoint->root_hash));
    std::cout << absl::StrFormat(
        "Trial summary (protocol %s v%u)\n"
        "  subjects registered %u, consented %u, screen failures %u, enrolled %u, treated %u,\n"
        "  withdrawn %u, evaluable %u\n"
        "  confirmed best overall response: CR %u, PR %u, SD %u, PD %u, NE %u\n"
        "  ORR %u/%u = %s (exact 95%% CI %s-%s); disease control %s\n"
        "  adverse events %u (grade>=3: %u in %u subjects; serious %u; deaths %u)\n"
        "  mean relative dose intensity %s; corrections %u; outdated signatures %u\n",
        summary.protocol_id(), summary.protocol_version(), summary.registered(),
        summary.consented(), summary.screen_failures(), summary.enrolled(), summary.treated(),
        summary.withdrawn(), summary.evaluable(), summary.bor_cr(), summary.bor_pr(),
        summary.bor_sd(), summary.bor_pd(), summary.bor_ne(), summary.orr().numerator(),
        summary.orr().denominator(), Pct(summary.orr().estimate_bp()),
        Pct(summary.orr().ci_lower_bp()), Pct(summary.orr().ci_upper_bp()),
        Pct(summary.disease_control().estimate_bp()), summary.ae_events(),
        summary.ae_grade_ge3_events(), summary.subjects_with_grade_ge3(),
        summary.serious_ae_events(), summary.deaths(),
        Pct(summary.mean_relative_dose_intensity_bp()), summary.corrections(),
        summary.outdated_signatures());
    if (!flags->summary_json.empty()) {
      std::string json;
      google::protobuf::util::JsonPrintOptions options;
      options.add_whitespace = true;
      options.preserve_proto_field_names = true;
      (void)google::protobuf::util::MessageToJsonString(summary, &json, options);
      if (absl::Status s = WriteFile(flags->summary_json, json); !s.ok()) {
        return fail(kExitError, s.message());
      }
    }
  });
}

}  // namespace trialog::cli
