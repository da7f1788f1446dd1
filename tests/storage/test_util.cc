#include "tests/storage/test_util.h"

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/crypto/crypto.h"
#include "core/ledger/entry.h"
#include "core/ledger/envelope_signer.h"
#include "core/merkle/merkle.h"
#include "gtest/gtest.h"

namespace trialog::storage::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string pattern = absl::StrCat(base != nullptr ? base : "/tmp", "/trialog-storage-XXXXXX");
  char* made = mkdtemp(pattern.data());
  EXPECT_NE(made, nullptr) << "mkdtemp failed for " << pattern;
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Person MakePerson(absl::string_view id, v1::Role role, absl::string_view site) {
  return Person{std::string(id), role, std::string(site), crypto::SigningKey::Generate()};
}

Admitted SignAndAdmit(const v1::Envelope& envelope, const crypto::SigningKey& key) {
  Admitted a;
  a.signed_envelope = ledger::SignEnvelope(envelope, key);
  absl::StatusOr<v1::Envelope> parsed = ledger::ParseEnvelope(a.signed_envelope.envelope());
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  if (parsed.ok()) a.envelope = *std::move(parsed);
  EXPECT_TRUE(ledger::VerifyEnvelopeSignature(a.signed_envelope, key.public_key()).ok());
  a.verified_key = key.public_key();
  return a;
}

v1::Envelope BaseEnvelope(const Person& actor, absl::string_view stream) {
  v1::Envelope e;
  e.set_trial_id(std::string(kTrialId));
  e.set_stream_id(std::string(stream));
  e.set_event_id(ledger::NewEventId());
  e.mutable_observed_at()->set_unix_micros(1767225600000000);  // 2026-01-01T00:00:00Z
  e.mutable_observed_at()->set_utc_offset_minutes(180);
  e.mutable_actor()->set_principal_id(actor.id);
  e.mutable_actor()->set_printed_name(absl::StrCat("Dr ", actor.id));
  e.mutable_actor()->set_role(actor.role);
  e.mutable_actor()->set_site_id(actor.site);
  e.set_client_unix_micros(1767225600000001);
  return e;
}

namespace {
void FillRegistered(const Person& who, v1::PrincipalRegistered* p) {
  p->set_principal_id(who.id);
  p->set_printed_name(absl::StrCat("Dr ", who.id));
  p->set_role(who.role);
  p->set_site_id(who.site);
  p->set_public_key(who.key.public_key());
}
}  // namespace

Admitted Genesis(const Person& admin, absl::string_view origin) {
  v1::Envelope e = BaseEnvelope(admin, "principals");
  v1::Genesis* g = e.mutable_event()->mutable_genesis();
  g->set_ledger_origin(std::string(origin));
  g->set_trial_title("storage test trial");
  FillRegistered(admin, g->mutable_first_admin());
  g->mutable_protocol()->set_protocol_id("TEST-001");
  g->mutable_protocol()->set_version(1);
  return SignAndAdmit(e, admin.key);
}

Admitted Register(const Person& admin, const Person& who) {
  v1::Envelope e = BaseEnvelope(admin, "principals");
  FillRegistered(who, e.mutable_event()->mutable_principal_registered());
  return SignAndAdmit(e, admin.key);
}

Admitted RotateKey(const Person& admin, const Person& who, absl::string_view new_public_key) {
  v1::Envelope e = BaseEnvelope(admin, "principals");
  v1::PrincipalKeyRotated* r = e.mutable_event()->mutable_principal_key_rotated();
  r->set_principal_id(who.id);
  r->set_new_public_key(std::string(new_public_key));
  return SignAndAdmit(e, admin.key);
}

Admitted Revoke(const Person& admin, const Person& who) {
  v1::Envelope e = BaseEnvelope(admin, "principals");
  e.mutable_event()->mutable_principal_revoked()->set_principal_id(who.id);
  return SignAndAdmit(e, admin.key);
}

Admitted NoteEvent(const Person& actor, absl::string_view stream, absl::string_view text,
                   std::optional<uint64_t> expected_version, absl::string_view event_id) {
  v1::Envelope e = BaseEnvelope(actor, stream);
  if (!event_id.empty()) e.set_event_id(std::string(event_id));
  if (expected_version.has_value()) e.set_expected_stream_version(*expected_version);
  e.mutable_event()->mutable_trial()->mutable_note()->set_text(std::string(text));
  return SignAndAdmit(e, actor.key);
}

Admitted NoteEventUnverified(const Person& actor, absl::string_view stream,
                             absl::string_view text) {
  v1::Envelope e = BaseEnvelope(actor, stream);
  e.mutable_event()->mutable_trial()->mutable_note()->set_text(std::string(text));
  Admitted a;
  a.signed_envelope = ledger::SignEnvelope(e, actor.key);
  a.envelope = std::move(e);
  a.verified_key = actor.key.public_key();
  return a;
}

absl::Status NoteRules::Check(const ledger::Candidate& c) const {
  const v1::Event& event = c.envelope.event();
  if (event.has_trial() && event.trial().has_note() &&
      absl::StartsWith(event.trial().note().text(), "reject:")) {
    return absl::FailedPreconditionError(
        absl::StrCat("note rule: \"", event.trial().note().text(), "\" is refused at entry ",
                     c.index));
  }
  return absl::OkStatus();
}

void NoteRules::Apply(const ledger::ParsedEntry& entry) {
  ++applied_;
  digest_ = crypto::Sha256(digest_, entry.leaf_hash);
}

LedgerHarness::LedgerHarness()
    : dir(tmp.path() + "/ledger"),
      signer(std::string(kOrigin), crypto::SigningKey::Generate()),
      admin(MakePerson("admin-1", v1::ROLE_SPONSOR_ADMIN)) {}

LedgerOptions LedgerHarness::Options(LedgerOptions options) const {
  if (options.dir.empty()) options.dir = dir;
  if (options.checkpoint_signer == nullptr) options.checkpoint_signer = &signer;
  return options;
}

absl::Status LedgerHarness::Open(LedgerOptions options) {
  ledger.reset();
  registry = std::make_unique<ledger::PrincipalRegistry>();
  rules = std::make_unique<NoteRules>();
  absl::StatusOr<std::unique_ptr<Ledger>> opened =
      Ledger::Open(Options(std::move(options)), registry.get(), {rules.get()});
  if (!opened.ok()) return opened.status();
  ledger = *std::move(opened);
  return absl::OkStatus();
}

std::unique_ptr<Db> OpenRawDb(const std::string& dir) {
  DbOptions o;
  o.dir = dir;
  o.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<Db>> db = Db::Open(o);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? *std::move(db) : nullptr;
}

}  // namespace trialog::storage::testing
