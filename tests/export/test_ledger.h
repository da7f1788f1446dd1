// A real, signed trial ledger for the export tests, built without a server:
// core/trial's synthetic IMT trial, every envelope signed with a per-principal
// Ed25519 key, every entry admitted through ledger::ChainVerifier with the
// TrialStateMachine (signatures, registry and protocol rules), then a C2SP
// checkpoint signed with the ledger key. The one planted rule violation of
// the synthetic plan is refused and leaves no entry, as on a live server.
//
// Keys are derived from fixed seeds (SHA-256 of a label), so the same
// (seed, subjects) gives the same ledger byte for byte.

#ifndef TRIALOG_TESTS_EXPORT_TEST_LEDGER_H_
#define TRIALOG_TESTS_EXPORT_TEST_LEDGER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/crypto/crypto.h"
#include "core/ledger/parallel_verifier.h"
#include "core/note/keys.h"
#include "core/trial/synthetic_trial.h"

namespace trialog::export_test {

struct TestLedger {
  std::string trial_id;
  std::string origin;
  std::vector<std::string> entries;  // exact entry bytes, index order
  std::string checkpoint;            // signed note over all entries
  std::string ledger_vkey;           // verifier key text of the ledger key
  note::NoteSigner ledger_signer{"x", crypto::SigningKey::Generate()};
  std::map<std::string, crypto::SigningKey> keys;  // principal id -> key
  trial::SyntheticTrialPlan plan;
  size_t refused_steps = 0;          // steps the state machine refused

  // An EntryReader over `entries` (for LoadExportInput).
  ledger::EntryReader Reader() const;
  // A checkpoint over the first `size` entries, signed with the ledger key.
  std::string CheckpointAt(uint64_t size) const;
};

// Appends one more envelope after the plan: `actor` appends `event` to
// `stream`, observed at `observed_unix_micros` (Moscow offset), with
// `reason`. Returns the event id, or the rules' refusal.
using AppendFn = std::function<absl::StatusOr<std::string>(const v1::Actor& actor, const std::string& stream,
                                                           const v1::TrialEvent& event, int64_t observed_unix_micros,
                                                           const std::string& reason)>;
// Extra steps run after the synthetic plan (nullptr: none).
using ExtraSteps = std::function<absl::Status(const trial::SyntheticTrialPlan& plan, const AppendFn& append)>;

// Builds the ledger. INTERNAL if a step other than the planted violation
// is refused (that would be a bug in the test or in core/trial).
absl::StatusOr<TestLedger> BuildSyntheticLedger(uint64_t seed = 42, int subjects = 20,
                                                const ExtraSteps& extra = nullptr);

// The shared ledger plus, after the final lock: an unlock, a void of one
// of RU-01-0001's dispensing records (reason "dispensing entered twice"),
// and a lock again. Built once per process.
const TestLedger& SharedLedgerWithVoid();

// The same ledger, built once per process (tests share it read-only).
const TestLedger& SharedLedger();

// A deterministic key for `label` (seed = SHA-256("trialog-test-key:" label)).
crypto::SigningKey TestKey(const std::string& label);

// A fresh empty directory under the test's temporary directory.
std::string NewTempDir(const std::string& name);
// Whole-file helpers that fail the current test on I/O errors.
std::string ReadAll(const std::string& path);
void WriteAll(const std::string& path, const std::string& bytes);

}  // namespace trialog::export_test

#endif  // TRIALOG_TESTS_EXPORT_TEST_LEDGER_H_
