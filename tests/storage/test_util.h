// Helpers for storage tests: temp directories, real keys made at test time,
// envelopes signed by them, and a tiny rule-checking state machine.

#ifndef TRIALOG_TESTS_STORAGE_TEST_UTIL_H_
#define TRIALOG_TESTS_STORAGE_TEST_UTIL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/crypto/crypto.h"
#include "core/ledger/registry.h"
#include "core/ledger/state_machine.h"
#include "core/note/keys.h"
#include "storage/ledger.h"

namespace trialog::storage::testing {

inline constexpr absl::string_view kTrialId = "imt-test-01";
inline constexpr absl::string_view kOrigin = "trialog.test/imt-test-01";

// A fresh directory under $TEST_TMPDIR or /tmp, removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct Person {
  std::string id;
  v1::Role role;
  std::string site;
  crypto::SigningKey key;
};
Person MakePerson(absl::string_view id, v1::Role role, absl::string_view site = "");

// Signs `envelope` with `key` (ledger::SignEnvelope), re-parses and verifies
// it as admission would, and returns it ready for the sequencer.
Admitted SignAndAdmit(const v1::Envelope& envelope, const crypto::SigningKey& key);

// Envelope builders (event ids are fresh random UUIDs unless given).
v1::Envelope BaseEnvelope(const Person& actor, absl::string_view stream);
Admitted Genesis(const Person& admin, absl::string_view origin = kOrigin);
Admitted Register(const Person& admin, const Person& who);
Admitted RotateKey(const Person& admin, const Person& who, absl::string_view new_public_key);
Admitted Revoke(const Person& admin, const Person& who);
Admitted NoteEvent(const Person& actor, absl::string_view stream, absl::string_view text,
                   std::optional<uint64_t> expected_version = std::nullopt,
                   absl::string_view event_id = "");

// As NoteEvent, without re-verifying the signature (bulk tests).
Admitted NoteEventUnverified(const Person& actor, absl::string_view stream,
                             absl::string_view text);

// A tiny domain: a note whose text starts with "reject:" breaks a rule
// (FAILED_PRECONDITION "note rule: ..."). Folds every applied entry's index
// and leaf hash into a running digest, so two replays can be compared.
class NoteRules : public ledger::StateMachine {
 public:
  absl::Status Check(const ledger::Candidate& c) const override;
  void Apply(const ledger::ParsedEntry& entry) override;
  uint64_t applied() const { return applied_; }
  const std::string& digest() const { return digest_; }

 private:
  uint64_t applied_ = 0;
  std::string digest_ = std::string(32, '\0');
};

// The store in `dir` opened as a bare RocksDB (no ledger on it), for tests
// that read or tamper with rows; null (and a test failure) if it does not
// open.
std::unique_ptr<Db> OpenRawDb(const std::string& dir);

// A ledger in a temp dir with a real registry, NoteRules and a note signer.
class LedgerHarness {
 public:
  LedgerHarness();
  // Opens (or reopens, with fresh state machines) the ledger.
  absl::Status Open(LedgerOptions options = {});
  // Closes and destroys the Ledger (the store stays).
  void Shut() { ledger.reset(); }
  LedgerOptions Options(LedgerOptions options = {}) const;
  // OpenRawDb(dir) (the ledger must be Shut).
  std::unique_ptr<Db> OpenRaw() const { return OpenRawDb(dir); }

  TempDir tmp;
  std::string dir;
  note::NoteSigner signer;
  std::unique_ptr<ledger::PrincipalRegistry> registry;
  std::unique_ptr<NoteRules> rules;
  std::unique_ptr<Ledger> ledger;
  Person admin;
};

}  // namespace trialog::storage::testing

#endif  // TRIALOG_TESTS_STORAGE_TEST_UTIL_H_
