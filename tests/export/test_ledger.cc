#include "tests/export/test_ledger.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <tuple>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "core/ledger/chain_verifier.h"
#include "core/ledger/entry.h"
#include "core/ledger/envelope_signer.h"
#include "core/merkle/merkle.h"
#include "core/note/checkpoint.h"
#include "core/trial/state_machine.h"
#include "gtest/gtest.h"

namespace trialog::export_test {
namespace {

constexpr int64_t kRecordLagMicros = 90LL * 1000000;  // server records 90 s after the clinic

v1::PrincipalRegistered Registration(const v1::Actor& a, const crypto::SigningKey& key) {
  v1::PrincipalRegistered r;
  r.set_principal_id(a.principal_id());
  r.set_printed_name(a.printed_name());
  r.set_role(a.role());
  r.set_site_id(a.site_id());
  r.set_public_key(key.public_key());
  return r;
}

}  // namespace

crypto::SigningKey TestKey(const std::string& label) {
  return *crypto::SigningKey::FromSeed(crypto::Sha256(absl::StrCat("trialog-test-key:", label)));
}

ledger::EntryReader TestLedger::Reader() const {
  const std::vector<std::string>* entries_ptr = &entries;
  return [entries_ptr](uint64_t from, const std::function<bool(absl::string_view)>& sink) {
    for (uint64_t i = from; i < entries_ptr->size(); ++i) {
      if (!sink((*entries_ptr)[i])) break;
    }
    return absl::OkStatus();
  };
}

std::string TestLedger::CheckpointAt(uint64_t size) const {
  std::vector<std::string> leaves;
  for (uint64_t i = 0; i < size; ++i) leaves.push_back(merkle::HashLeaf(entries[i]));
  note::Checkpoint c;
  c.origin = origin;
  c.size = size;
  c.root_hash = merkle::RootFromLeafHashes(leaves);
  return *note::SignCheckpoint(c, ledger_signer);
}

absl::StatusOr<TestLedger> BuildSyntheticLedger(uint64_t seed, int subjects, const ExtraSteps& extra) {
  absl::StatusOr<trial::SyntheticTrialPlan> plan = trial::SyntheticTrial(seed, subjects);
  if (!plan.ok()) return plan.status();
  TestLedger out;
  out.plan = *plan;
  out.trial_id = plan->trial_id;
  out.origin = plan->ledger_origin;
  out.ledger_signer = note::NoteSigner(out.origin, TestKey("ledger:" + out.origin));
  out.ledger_vkey = out.ledger_signer.verifier_key();
  out.keys.emplace(plan->admin.principal_id(), TestKey(plan->admin.principal_id()));
  for (const v1::Actor& a : plan->principals) out.keys.emplace(a.principal_id(), TestKey(a.principal_id()));

  trial::TrialStateMachine sm;
  ledger::ChainVerifier verifier({&sm}, /*check_signatures=*/true);
  std::string prev = ledger::ZeroHash();
  std::map<std::string, uint64_t> versions;
  int64_t last_recorded = 0;

  // Signs `env` as its actor, builds the entry and admits it. Returns the
  // verifier's refusal, leaving no entry, if the rules refuse it.
  auto append = [&](v1::Envelope env, int64_t recorded_at) -> absl::Status {
    const crypto::SigningKey& key = out.keys.at(env.actor().principal_id());
    v1::Entry entry;
    entry.set_index(out.entries.size());
    entry.set_prev_leaf_hash(prev);
    last_recorded = std::max(last_recorded + 1, recorded_at);
    entry.set_recorded_at_unix_micros(last_recorded);
    entry.set_stream_version(versions[env.stream_id()] + 1);
    *entry.mutable_signed_envelope() = ledger::SignEnvelope(env, key);
    std::string bytes = ledger::SerializeEntry(entry);
    if (absl::Status s = verifier.Add(bytes); !s.ok()) return s;
    versions[env.stream_id()]++;
    prev = merkle::HashLeaf(bytes);
    out.entries.push_back(std::move(bytes));
    return absl::OkStatus();
  };
  auto base = [&](const v1::Actor& actor, const std::string& stream, const std::string& event_id,
                  int64_t observed, int32_t offset) {
    v1::Envelope env;
    env.set_trial_id(out.trial_id);
    env.set_stream_id(stream);
    env.set_event_id(event_id);
    env.mutable_observed_at()->set_unix_micros(observed);
    env.mutable_observed_at()->set_utc_offset_minutes(offset);
    *env.mutable_actor() = actor;
    env.set_client_unix_micros(observed + 1000000);
    return env;
  };

  // Genesis and the principal registry, a day before the first step.
  const int64_t t0 = plan->steps.front().observed_at.unix_micros() - 86400LL * 1000000;
  const int32_t offset = plan->steps.front().observed_at.utc_offset_minutes();
  int id_counter = 0;
  auto admin_id = [&] {
    return crypto::Sha256(absl::StrCat("admin-event:", seed, ":", ++id_counter)).substr(0, 16);
  };
  {
    v1::Envelope env = base(plan->admin, "principals", admin_id(), t0, offset);
    v1::Genesis* g = env.mutable_event()->mutable_genesis();
    g->set_ledger_origin(out.origin);
    g->set_trial_title(plan->protocol.title());
    *g->mutable_first_admin() = Registration(plan->admin, out.keys.at(plan->admin.principal_id()));
    *g->mutable_protocol() = plan->protocol;
    if (absl::Status s = append(env, t0 + kRecordLagMicros); !s.ok()) return s;
  }
  int64_t t = t0;
  for (const v1::Actor& a : plan->principals) {
    t += 60LL * 1000000;
    v1::Envelope env = base(plan->admin, "principals", admin_id(), t, offset);
    *env.mutable_event()->mutable_principal_registered() = Registration(a, out.keys.at(a.principal_id()));
    if (absl::Status s = append(env, t + kRecordLagMicros); !s.ok()) return s;
  }

  for (const trial::SyntheticStep& step : plan->steps) {
    v1::Envelope env = base(step.actor, step.stream_id, step.event_id, step.observed_at.unix_micros(),
                            step.observed_at.utc_offset_minutes());
    env.set_reason(step.reason);
    *env.mutable_event() = step.event;
    if (step.needs_signature_hashes) {
      absl::Status s =
          sm.FillSignatureHashes(step.stream_id, env.mutable_event()->mutable_trial()->mutable_e_signature());
      if (!s.ok()) return absl::InternalError(absl::StrCat(step.description, ": ", s.message()));
    }
    absl::Status s = append(env, step.observed_at.unix_micros() + kRecordLagMicros);
    if (!s.ok()) {
      if (!step.expect_refused) {
        return absl::InternalError(absl::StrCat("step refused unexpectedly: ", step.description, ": ",
                                                s.message()));
      }
      ++out.refused_steps;
    }
  }
  if (extra) {
    int64_t clock = plan->steps.back().observed_at.unix_micros();
    AppendFn fn = [&](const v1::Actor& actor, const std::string& stream, const v1::TrialEvent& event,
                      int64_t observed, const std::string& reason) -> absl::StatusOr<std::string> {
      clock = std::max(clock + 1000000, observed);
      const std::string id = crypto::Sha256(absl::StrCat("extra:", seed, ":", ++id_counter)).substr(0, 16);
      v1::Envelope env = base(actor, stream, id, clock, offset);
      env.set_reason(reason);
      *env.mutable_event()->mutable_trial() = event;
      if (absl::Status s = append(env, clock + kRecordLagMicros); !s.ok()) return s;
      return id;
    };
    if (absl::Status s = extra(*plan, fn); !s.ok()) return s;
  }
  out.checkpoint = out.CheckpointAt(out.entries.size());
  return out;
}

const TestLedger& SharedLedgerWithVoid() {
  static const TestLedger* ledger = [] {
    ExtraSteps extra = [](const trial::SyntheticTrialPlan& plan, const AppendFn& append) -> absl::Status {
      std::string target;
      v1::Actor coord;
      for (const trial::SyntheticStep& s : plan.steps) {
        if (s.stream_id == "subject/RU-01-0001" && s.event.trial().has_drug_dispensed()) {
          target = s.event_id;
          coord = s.actor;
        }
      }
      if (target.empty()) return absl::InternalError("no dispensing record to void");
      // The dispenser's site coordinator voids it.
      for (const v1::Actor& a : plan.principals) {
        if (a.role() == v1::ROLE_STUDY_COORDINATOR && a.site_id() == "RU-01") coord = a;
      }
      v1::TrialEvent unlock, void_event, lock;
      unlock.mutable_database_unlocked()->set_scope("all");
      lock.mutable_database_locked()->set_scope("all");
      void_event.mutable_event_voided()->set_target_event_id(target);
      for (auto [actor, stream, event, reason] :
           {std::make_tuple(plan.admin, std::string("trial"), unlock, std::string("void a duplicated dispensing")),
            std::make_tuple(coord, std::string("subject/RU-01-0001"), void_event,
                            std::string("dispensing entered twice")),
            std::make_tuple(plan.admin, std::string("trial"), lock, std::string())}) {
        absl::StatusOr<std::string> id = append(actor, stream, event, 0, reason);
        if (!id.ok()) return id.status();
      }
      return absl::OkStatus();
    };
    absl::StatusOr<TestLedger> l = BuildSyntheticLedger(42, 20, extra);
    if (!l.ok()) {
      ADD_FAILURE() << "building the ledger with a void: " << l.status();
      return new TestLedger();
    }
    return new TestLedger(*std::move(l));
  }();
  return *ledger;
}

const TestLedger& SharedLedger() {
  static const TestLedger* ledger = [] {
    absl::StatusOr<TestLedger> l = BuildSyntheticLedger(42, 20);
    if (!l.ok()) {
      ADD_FAILURE() << "building the synthetic ledger: " << l.status();
      return new TestLedger();
    }
    return new TestLedger(*std::move(l));
  }();
  return *ledger;
}

namespace {

// Removes the directories NewTempDir made when the test process exits
// (set TRIALOG_KEEP_TEST_FILES=1 to keep them for inspection).
class TempDirs {
 public:
  ~TempDirs() {
    if (std::getenv("TRIALOG_KEEP_TEST_FILES") != nullptr) return;
    for (const std::string& d : dirs_) {
      std::error_code ec;
      std::filesystem::remove_all(d, ec);
    }
  }
  void Add(const std::string& d) { dirs_.push_back(d); }

 private:
  std::vector<std::string> dirs_;
};

TempDirs& Dirs() {
  static TempDirs dirs;
  return dirs;
}

}  // namespace

std::string NewTempDir(const std::string& name) {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string base = ::testing::TempDir();
  std::filesystem::path dir = std::filesystem::path(base) /
                              absl::StrCat("trialog-export-", getpid(), "-",
                                           info ? info->test_suite_name() : "x", "-",
                                           info ? info->name() : "x", "-", name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  Dirs().Add(dir.string());
  return dir.string();
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  EXPECT_TRUE(out.good()) << "cannot write " << path;
}

}  // namespace trialog::export_test
