// Tests of core/ledger: admission, the principal registry and offline
// chain verification, on entries built the way the sequencer builds them.

#include <map>
#include <string>
#include <vector>

#include "core/crypto/crypto.h"
#include "core/ledger/admission.h"
#include "core/ledger/chain_verifier.h"
#include "core/ledger/entry.h"
#include "core/ledger/envelope_signer.h"
#include "core/ledger/parallel_verifier.h"
#include "core/ledger/registry.h"
#include "core/merkle/merkle.h"
#include "gtest/gtest.h"

namespace trialog::ledger {
namespace {

constexpr char kTrial[] = "imt-crizotinib-01";

struct Person {
  std::string id;
  v1::Role role;
  std::string site;
  crypto::SigningKey key = crypto::SigningKey::Generate();
};

v1::Envelope BaseEnvelope(const Person& who, const std::string& stream) {
  v1::Envelope e;
  e.set_trial_id(kTrial);
  e.set_stream_id(stream);
  e.set_event_id(NewEventId());
  e.mutable_observed_at()->set_unix_micros(1'780'000'000'000'000);
  e.mutable_observed_at()->set_utc_offset_minutes(180);
  e.mutable_actor()->set_principal_id(who.id);
  e.mutable_actor()->set_printed_name("Name of " + who.id);
  e.mutable_actor()->set_role(who.role);
  e.mutable_actor()->set_site_id(who.site);
  return e;
}

v1::PrincipalRegistered Registration(const Person& p) {
  v1::PrincipalRegistered r;
  r.set_principal_id(p.id);
  r.set_printed_name("Name of " + p.id);
  r.set_role(p.role);
  r.set_site_id(p.site);
  r.set_public_key(p.key.public_key());
  return r;
}

// A minimal in-memory sequencer: admission, registry check, entry building.
class MiniLedger {
 public:
  absl::Status Append(const v1::SignedEnvelope& signed_envelope) {
    absl::StatusOr<AdmittedEnvelope> a = Admit(kTrial, signed_envelope, registry_);
    if (!a.ok()) return a.status();
    uint64_t version = ++versions_[a->envelope.stream_id()];
    Candidate c{a->envelope, entries_.size(), 1000 + static_cast<int64_t>(entries_.size()),
                version};
    if (absl::Status s = registry_.Check(c); !s.ok()) {
      --versions_[a->envelope.stream_id()];
      return s;
    }
    v1::Entry entry;
    entry.set_index(entries_.size());
    entry.set_prev_leaf_hash(head_);
    entry.set_recorded_at_unix_micros(c.recorded_at_unix_micros);
    entry.set_stream_version(version);
    *entry.mutable_signed_envelope() = a->signed_envelope;
    std::string bytes = SerializeEntry(entry);
    absl::StatusOr<ParsedEntry> parsed = ParseEntry(bytes);
    if (!parsed.ok()) return parsed.status();
    registry_.Apply(*parsed);
    head_ = parsed->leaf_hash;
    entries_.push_back(bytes);
    return absl::OkStatus();
  }
  std::vector<std::string>& entries() { return entries_; }
  const PrincipalRegistry& registry() const { return registry_; }

 private:
  PrincipalRegistry registry_;
  std::vector<std::string> entries_;
  std::string head_ = ZeroHash();
  std::map<std::string, uint64_t> versions_;
};

v1::SignedEnvelope Genesis(const Person& admin) {
  v1::Envelope e = BaseEnvelope(admin, "principals");
  v1::Genesis* g = e.mutable_event()->mutable_genesis();
  g->set_ledger_origin("trialog.test/imt-crizotinib-01");
  g->set_trial_title("test trial");
  *g->mutable_first_admin() = Registration(admin);
  return SignEnvelope(e, admin.key);
}

v1::SignedEnvelope Register(const Person& admin, const Person& p) {
  v1::Envelope e = BaseEnvelope(admin, "principals");
  *e.mutable_event()->mutable_principal_registered() = Registration(p);
  return SignEnvelope(e, admin.key);
}

v1::SignedEnvelope NoteBy(const Person& who, const std::string& text) {
  v1::Envelope e = BaseEnvelope(who, "subject/RU-01-0001");
  e.mutable_event()->mutable_trial()->mutable_note()->set_text(text);
  return SignEnvelope(e, who.key);
}

struct World {
  Person admin{"admin", v1::ROLE_SPONSOR_ADMIN, ""};
  Person inv{"inv-ru01", v1::ROLE_INVESTIGATOR, "RU-01"};
  MiniLedger ledger;
  World() {
    EXPECT_TRUE(ledger.Append(Genesis(admin)).ok());
    EXPECT_TRUE(ledger.Append(Register(admin, inv)).ok());
  }
};

absl::Status VerifyAll(const std::vector<std::string>& entries, uint64_t* verified = nullptr) {
  ChainVerifier v;
  for (const std::string& bytes : entries) {
    if (absl::Status s = v.Add(bytes); !s.ok()) {
      if (verified) *verified = v.size();
      return s;
    }
  }
  if (verified) *verified = v.size();
  return absl::OkStatus();
}

TEST(AdmissionTest, GenesisThenRegisteredPrincipalAppends) {
  World w;
  ASSERT_TRUE(w.ledger.Append(NoteBy(w.inv, "first note")).ok());
  EXPECT_EQ(w.ledger.entries().size(), 3u);
  EXPECT_EQ(w.ledger.registry().origin(), "trialog.test/imt-crizotinib-01");
  EXPECT_TRUE(VerifyAll(w.ledger.entries()).ok());
}

TEST(AdmissionTest, FirstEntryMustBeGenesis) {
  Person admin{"admin", v1::ROLE_SPONSOR_ADMIN, ""};
  MiniLedger ledger;
  // The admin is not registered yet, so the note is refused as unauthenticated.
  absl::Status s = ledger.Append(NoteBy(admin, "too early"));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << s;
  EXPECT_TRUE(ledger.entries().empty());
}

TEST(AdmissionTest, SecondGenesisRefused) {
  World w;
  absl::Status s = w.ledger.Append(Genesis(w.admin));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("genesis is only allowed at entry 0"), std::string::npos) << s;
}

TEST(AdmissionTest, UnknownPrincipalIsUnauthenticated) {
  World w;
  Person stranger{"stranger", v1::ROLE_INVESTIGATOR, "RU-01"};
  absl::Status s = w.ledger.Append(NoteBy(stranger, "hello"));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("stranger is not registered"), std::string::npos) << s;
}

TEST(AdmissionTest, WrongKeyIsUnauthenticated) {
  World w;
  Person impostor = w.inv;
  impostor.key = crypto::SigningKey::Generate();
  absl::Status s = w.ledger.Append(NoteBy(impostor, "forged"));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(w.ledger.entries().size(), 2u);
}

TEST(AdmissionTest, ClaimedRoleOrSiteMustMatchRegistry) {
  World w;
  Person promoted = w.inv;
  promoted.role = v1::ROLE_SPONSOR_ADMIN;
  absl::Status s = w.ledger.Append(NoteBy(promoted, "x"));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  Person moved = w.inv;
  moved.site = "RU-02";
  s = w.ledger.Append(NoteBy(moved, "x"));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
}

TEST(AdmissionTest, TamperedEnvelopeBytesFailSignature) {
  World w;
  v1::SignedEnvelope se = NoteBy(w.inv, "original");
  std::string bytes = se.envelope();
  size_t at = bytes.find("original");
  ASSERT_NE(at, std::string::npos);
  bytes[at] = 'O';
  se.set_envelope(bytes);
  EXPECT_EQ(w.ledger.Append(se).code(), absl::StatusCode::kUnauthenticated);
}

TEST(AdmissionTest, MalformedEnvelopesAreInvalidArgument) {
  World w;
  v1::SignedEnvelope garbage;
  garbage.set_envelope("\xff\xff\xff");
  garbage.set_signature(std::string(64, 'x'));
  EXPECT_EQ(w.ledger.Append(garbage).code(), absl::StatusCode::kInvalidArgument);

  v1::Envelope e = BaseEnvelope(w.inv, "subject/RU-01-0001");
  e.mutable_event()->mutable_trial()->mutable_note()->set_text("x");
  e.set_event_id("short");
  absl::Status s = w.ledger.Append(SignEnvelope(e, w.inv.key));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("event_id must be 16 bytes"), std::string::npos) << s;

  e = BaseEnvelope(w.inv, "subject/RU 01");
  e.mutable_event()->mutable_trial()->mutable_note()->set_text("x");
  EXPECT_EQ(w.ledger.Append(SignEnvelope(e, w.inv.key)).code(),
            absl::StatusCode::kInvalidArgument);

  e = BaseEnvelope(w.inv, "subject/RU-01-0001");  // no event
  EXPECT_EQ(w.ledger.Append(SignEnvelope(e, w.inv.key)).code(),
            absl::StatusCode::kInvalidArgument);

  e = BaseEnvelope(w.inv, "subject/RU-01-0001");
  e.set_trial_id("another-trial");
  e.mutable_event()->mutable_trial()->mutable_note()->set_text("x");
  s = w.ledger.Append(SignEnvelope(e, w.inv.key));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(w.ledger.entries().size(), 2u);
}

TEST(AdmissionTest, OversizedEnvelopeIsResourceExhausted) {
  World w;
  v1::SignedEnvelope se = NoteBy(w.inv, std::string(kMaxEnvelopeBytes + 1, 'a'));
  EXPECT_EQ(w.ledger.Append(se).code(), absl::StatusCode::kResourceExhausted);
}

TEST(RegistryTest, OnlyAdminsChangeTheRegistry) {
  World w;
  Person coordinator{"sc-ru01", v1::ROLE_STUDY_COORDINATOR, "RU-01"};
  absl::Status s = w.ledger.Append(Register(w.inv, coordinator));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  EXPECT_TRUE(w.ledger.Append(Register(w.admin, coordinator)).ok());
  s = w.ledger.Append(Register(w.admin, coordinator));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
}

TEST(RegistryTest, RevokedKeyRefusedButEarlierEntriesStillVerify) {
  World w;
  ASSERT_TRUE(w.ledger.Append(NoteBy(w.inv, "before revocation")).ok());
  v1::Envelope e = BaseEnvelope(w.admin, "principals");
  e.mutable_event()->mutable_principal_revoked()->set_principal_id(w.inv.id);
  ASSERT_TRUE(w.ledger.Append(SignEnvelope(e, w.admin.key)).ok());
  absl::Status s = w.ledger.Append(NoteBy(w.inv, "after revocation"));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("revoked"), std::string::npos) << s;
  EXPECT_TRUE(VerifyAll(w.ledger.entries()).ok());
}

TEST(RegistryTest, RotatedKeyReplacesOldKey) {
  World w;
  ASSERT_TRUE(w.ledger.Append(NoteBy(w.inv, "old key")).ok());
  Person rotated = w.inv;
  rotated.key = crypto::SigningKey::Generate();
  v1::Envelope e = BaseEnvelope(w.admin, "principals");
  e.mutable_event()->mutable_principal_key_rotated()->set_principal_id(w.inv.id);
  e.mutable_event()->mutable_principal_key_rotated()->set_new_public_key(
      rotated.key.public_key());
  ASSERT_TRUE(w.ledger.Append(SignEnvelope(e, w.admin.key)).ok());
  EXPECT_EQ(w.ledger.Append(NoteBy(w.inv, "old key again")).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(w.ledger.Append(NoteBy(rotated, "new key")).ok());
  // The entry signed with the old key before rotation still verifies.
  EXPECT_TRUE(VerifyAll(w.ledger.entries()).ok());
}

TEST(RegistryTest, LastAdminCannotBeRevokedOrDemoted) {
  World w;
  v1::Envelope e = BaseEnvelope(w.admin, "principals");
  e.mutable_event()->mutable_principal_revoked()->set_principal_id(w.admin.id);
  EXPECT_EQ(w.ledger.Append(SignEnvelope(e, w.admin.key)).code(),
            absl::StatusCode::kFailedPrecondition);
  e = BaseEnvelope(w.admin, "principals");
  e.mutable_event()->mutable_principal_role_changed()->set_principal_id(w.admin.id);
  e.mutable_event()->mutable_principal_role_changed()->set_new_role(v1::ROLE_MONITOR);
  EXPECT_EQ(w.ledger.Append(SignEnvelope(e, w.admin.key)).code(),
            absl::StatusCode::kFailedPrecondition);
}

class ChainDamageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(w.ledger.Append(NoteBy(w.inv, "n" + std::to_string(i))).ok());
    entries = w.ledger.entries();
    ASSERT_TRUE(VerifyAll(entries).ok());
  }
  World w;
  std::vector<std::string> entries;
};

TEST_F(ChainDamageTest, FlippedByteIsFoundAtOrRightAfterTheDamage) {
  // Flip each byte of entry 4 in turn: verification must fail at entry 4
  // (unparseable, bad signature, wrong index) or at entry 5 (chain link).
  for (size_t i = 0; i < entries[4].size(); ++i) {
    std::vector<std::string> damaged = entries;
    damaged[4][i] ^= 0x01;
    uint64_t verified = 0;
    absl::Status s = VerifyAll(damaged, &verified);
    ASSERT_FALSE(s.ok()) << "byte " << i;
    EXPECT_TRUE(verified == 4 || verified == 5) << "byte " << i << ": " << s;
  }
}

TEST_F(ChainDamageTest, DeletedEntryBreaksTheChain) {
  entries.erase(entries.begin() + 3);
  uint64_t verified = 0;
  absl::Status s = VerifyAll(entries, &verified);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(verified, 3u);
}

TEST_F(ChainDamageTest, ReorderedEntriesBreakTheChain) {
  std::swap(entries[3], entries[4]);
  uint64_t verified = 0;
  EXPECT_EQ(VerifyAll(entries, &verified).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(verified, 3u);
}

TEST_F(ChainDamageTest, ReplacedSignatureIsUnauthenticated) {
  absl::StatusOr<ParsedEntry> p = ParseEntry(entries[5]);
  ASSERT_TRUE(p.ok());
  v1::Entry e = p->entry;
  e.mutable_signed_envelope()->set_signature(w.admin.key.Sign("something else"));
  entries[5] = SerializeEntry(e);
  uint64_t verified = 0;
  EXPECT_EQ(VerifyAll(entries, &verified).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(verified, 5u);
}

ParallelVerifyResult VerifyInParallel(const std::vector<std::string>& entries, size_t chunk) {
  ChainVerifier verifier({}, /*check_signatures=*/false);
  ParallelVerifyOptions options;
  options.threads = 2;
  options.chunk_entries = chunk;
  EntryReader reader = [&](uint64_t from, const std::function<bool(absl::string_view)>& sink) {
    for (uint64_t i = from; i < entries.size(); ++i) {
      if (!sink(entries[i])) break;
    }
    return absl::OkStatus();
  };
  return VerifyEntries(reader, verifier, options);
}

TEST(ParallelVerifierTest, AgreesWithSequentialVerifierOnEveryDamage) {
  World w;
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(w.ledger.Append(NoteBy(w.inv, "n" + std::to_string(i))).ok());
  const std::vector<std::string> good = w.ledger.entries();
  for (size_t chunk : {1u, 7u, 4096u}) {
    ParallelVerifyResult ok = VerifyInParallel(good, chunk);
    EXPECT_TRUE(ok.status.ok()) << ok.status;
    EXPECT_EQ(ok.signatures_checked, good.size());
  }
  // A forged signature at entry 20 and, later, a broken chain at entry 30:
  // both verifiers must name entry 20 first, as a signature failure.
  std::vector<std::string> damaged = good;
  absl::StatusOr<ParsedEntry> p = ParseEntry(damaged[20]);
  ASSERT_TRUE(p.ok());
  v1::Entry e = p->entry;
  e.mutable_signed_envelope()->set_signature(w.inv.key.Sign("other"));
  damaged[20] = SerializeEntry(e);
  damaged.erase(damaged.begin() + 30);
  uint64_t sequential_at = 0;
  absl::Status sequential = VerifyAll(damaged, &sequential_at);
  for (size_t chunk : {1u, 7u, 4096u}) {
    ParallelVerifyResult r = VerifyInParallel(damaged, chunk);
    EXPECT_EQ(r.status.code(), absl::StatusCode::kUnauthenticated) << r.status;
    EXPECT_EQ(r.first_bad_index, 20u);
    EXPECT_EQ(r.status.code(), sequential.code());
    EXPECT_EQ(r.first_bad_index, sequential_at);
  }
}

TEST(EntryTest, LeafHashIsRfc6962OverStoredBytes) {
  World w;
  absl::StatusOr<ParsedEntry> p = ParseEntry(w.ledger.entries()[1]);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->leaf_hash, crypto::Sha256(std::string(1, '\0') + w.ledger.entries()[1]));
  EXPECT_EQ(p->entry.prev_leaf_hash(), merkle::HashLeaf(w.ledger.entries()[0]));
}

}  // namespace
}  // namespace trialog::ledger
