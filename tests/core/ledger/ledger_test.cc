// Tests of core/ledger: admission, the principal registry and offline
// chain verification, on entries built the way the sequencer builds them.

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/crypto/crypto.h"
#include "core/ledger/admission.h"
#include "core/ledger/chain_verifier.h"
#include "core/ledger/entry.h"
#include "core/ledger/envelope_signer.h"
#include "core/ledger/parallel_verifier.h"
#include "core/ledger/registry.h"
#include "core/merkle/merkle.h"
#include "core/util/bytes.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

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

TEST(EntryTest, PeekEventIdAgreesWithProtobufsOwnParse) {
  Person who{"inv-01", v1::ROLE_INVESTIGATOR, "RU-01"};
  v1::Envelope e = BaseEnvelope(who, "subject/RU-01-0001");
  e.mutable_event()->mutable_trial()->mutable_note()->set_text("peek");
  const std::string bytes = e.SerializeAsString();
  // Protobuf's parser is the reference in every case.
  auto reference = [](const std::string& b, std::string* id) {
    v1::Envelope parsed;
    if (!parsed.ParseFromString(b)) return false;
    *id = parsed.event_id();
    return true;
  };
  std::string want;
  ASSERT_TRUE(reference(bytes, &want));
  EXPECT_EQ(PeekEventId(bytes), want);
  EXPECT_EQ(want.size(), kEventIdSize);
  // A second event_id field later in the bytes: the last one wins.
  const std::string later = std::string(16, '\x42');
  std::string twice = bytes + std::string("\x1a\x10", 2) + later;
  ASSERT_TRUE(reference(twice, &want));
  EXPECT_EQ(want, later);
  EXPECT_EQ(PeekEventId(twice), later);
  // Field 3 with the wrong wire type (varint) is an unknown field to
  // protobuf, which keeps the earlier id.
  std::string wrong_type = bytes + std::string("\x18\x07", 2);
  ASSERT_TRUE(reference(wrong_type, &want));
  EXPECT_EQ(PeekEventId(wrong_type), want);
  // Every truncation: wherever protobuf's parse succeeds the ids agree; a
  // cut inside a field gives "" (and protobuf fails too).
  for (size_t n = 0; n < bytes.size(); ++n) {
    const std::string cut = bytes.substr(0, n);
    if (reference(cut, &want)) {
      EXPECT_EQ(PeekEventId(cut), want) << "at " << n;
    } else {
      EXPECT_EQ(PeekEventId(cut), "") << "at " << n;
    }
  }
}

TEST(EntryTest, LeafHashIsRfc6962OverStoredBytes) {
  World w;
  absl::StatusOr<ParsedEntry> p = ParseEntry(w.ledger.entries()[1]);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->leaf_hash, crypto::Sha256(std::string(1, '\0') + w.ledger.entries()[1]));
  EXPECT_EQ(p->entry.prev_leaf_hash(), merkle::HashLeaf(w.ledger.entries()[0]));
}


// ---------------------------------------------------------------------------
// ScanChain: the chain and Merkle checks alone, in parallel.

EntryReader ReaderOver(const std::vector<std::string>& entries) {
  return [&entries](uint64_t from, const std::function<bool(absl::string_view)>& sink) {
    for (uint64_t i = from; i < entries.size(); ++i) {
      if (!sink(entries[i])) break;
    }
    return absl::OkStatus();
  };
}

ChainScanResult Scan(const std::vector<std::string>& entries, size_t chunk, int threads,
                     std::vector<uint64_t> roots_at = {}) {
  ChainScanOptions options;
  options.threads = threads;
  options.chunk_entries = chunk;
  options.roots_at = std::move(roots_at);
  return ScanChain(ReaderOver(entries), options);
}

// RFC 6962 leaf hashes computed here with plain SHA-256 (not merkle::HashLeaf).
std::vector<std::string> LeafHashes(const std::vector<std::string>& entries, size_t n) {
  std::vector<std::string> leaves;
  for (size_t i = 0; i < n; ++i) leaves.push_back(crypto::Sha256(std::string(1, '\0') + entries[i]));
  return leaves;
}

// The result ChainVerifier (sequential, full protobuf parse, no signatures)
// gives for the same entries: verified prefix size and status.
absl::Status SequentialChain(const std::vector<std::string>& entries, uint64_t* verified) {
  ChainVerifier v({}, /*check_signatures=*/false);
  for (const std::string& bytes : entries) {
    if (absl::Status s = v.Add(bytes); !s.ok()) {
      *verified = v.size();
      return s;
    }
  }
  *verified = v.size();
  return absl::OkStatus();
}

class ChainScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 98; ++i) ASSERT_TRUE(w.ledger.Append(NoteBy(w.inv, "n" + std::to_string(i))).ok());
    entries = w.ledger.entries();
    ASSERT_EQ(entries.size(), 100u);
  }
  World w;
  std::vector<std::string> entries;
};

TEST_F(ChainScanTest, RootsAndHeadMatchTheReferenceTreeForEveryChunking) {
  ChainVerifier sequential({}, /*check_signatures=*/false);
  for (const std::string& e : entries) ASSERT_TRUE(sequential.Add(e).ok());
  const std::vector<std::string> leaves = LeafHashes(entries, entries.size());
  const std::string reference = merkle::RootFromLeafHashes(leaves);
  ASSERT_EQ(reference, sequential.root());
  const std::vector<uint64_t> at = {0, 1, 3, 37, 64, 99, 100, 101};
  for (size_t chunk : {1u, 2u, 7u, 8u, 64u, 100u, 4096u}) {
    for (int threads : {1, 2, 3}) {
      ChainScanResult r = Scan(entries, chunk, threads, at);
      ASSERT_TRUE(r.status.ok()) << r.status << " chunk " << chunk;
      EXPECT_EQ(r.size, entries.size());
      EXPECT_EQ(r.root, reference) << "chunk " << chunk << " threads " << threads;
      EXPECT_EQ(r.head, leaves.back());
      for (uint64_t size : at) {
        if (size > entries.size()) {
          EXPECT_EQ(r.roots.count(size), 0u) << size;
          continue;
        }
        std::vector<std::string> prefix(leaves.begin(), leaves.begin() + size);
        const std::string want = size == 0 ? merkle::EmptyRoot() : merkle::RootFromLeafHashes(prefix);
        EXPECT_EQ(r.roots[size], want) << "size " << size << " chunk " << chunk;
      }
    }
  }
  ChainScanResult empty = Scan({}, 8, 2, {0});
  EXPECT_TRUE(empty.status.ok());
  EXPECT_EQ(empty.size, 0u);
  EXPECT_EQ(empty.root, merkle::EmptyRoot());
  EXPECT_EQ(empty.head, ZeroHash());
}

TEST_F(ChainScanTest, StructuralDamageIsPinnedWhereTheSequentialVerifierPinsIt) {
  struct Damage {
    const char* name;
    std::function<void(std::vector<std::string>&)> apply;
  };
  const std::vector<Damage> damages = {
      {"deleted 40", [](auto& e) { e.erase(e.begin() + 40); }},
      {"deleted 63", [](auto& e) { e.erase(e.begin() + 63); }},
      {"swapped 15,16", [](auto& e) { std::swap(e[15], e[16]); }},
      {"duplicated 8", [](auto& e) { e.insert(e.begin() + 9, e[8]); }},
      {"garbage at 72", [](auto& e) { e[72] = "not an entry at all"; }},
      {"empty at 31", [](auto& e) { e[31].clear(); }},
      {"prev hash flipped at 56", [](auto& e) { e[56][5] ^= 0x40; }},
  };
  for (const Damage& d : damages) {
    std::vector<std::string> damaged = entries;
    d.apply(damaged);
    uint64_t sequential_at = 0;
    absl::Status sequential = SequentialChain(damaged, &sequential_at);
    ASSERT_FALSE(sequential.ok()) << d.name;
    for (size_t chunk : {1u, 8u, 4096u}) {
      ChainScanResult r = Scan(damaged, chunk, 2);
      EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss) << d.name << ": " << r.status;
      EXPECT_FALSE(r.read_error);
      EXPECT_EQ(r.first_bad_index, sequential_at) << d.name << " chunk " << chunk << ": " << r.status;
      EXPECT_EQ(r.size, sequential_at);
      EXPECT_TRUE(absl::StrContains(r.status.message(), absl::StrCat("entry ", sequential_at)) ||
                  absl::StrContains(r.status.message(), absl::StrCat("position ", sequential_at)))
          << r.status;
      std::vector<std::string> prefix = LeafHashes(damaged, sequential_at);
      EXPECT_EQ(r.root, merkle::RootFromLeafHashes(prefix)) << d.name;
    }
  }
}

TEST_F(ChainScanTest, EveryFlippedByteIsFoundAtTheEntryOrTheNextLink) {
  // Entry 40 starts a chunk of 8 (the link to 39 is checked on the join);
  // with chunks of 4 and 64 it sits inside one.
  uint64_t index;
  absl::string_view prev;
  ASSERT_TRUE(ReadEntryHeader(entries[40], &index, &prev).ok());
  const size_t header = static_cast<size_t>(prev.data() - entries[40].data()) + 32;
  for (size_t i = 0; i < entries[40].size(); ++i) {
    std::vector<std::string> damaged = entries;
    damaged[40][i] ^= 0x01;
    for (size_t chunk : {4u, 8u, 64u}) {
      ChainScanResult r = Scan(damaged, chunk, 2);
      ASSERT_EQ(r.status.code(), absl::StatusCode::kDataLoss) << "byte " << i;
      // In the index or prev hash: entry 40 itself; elsewhere its leaf hash
      // changed, so entry 41's link breaks.
      EXPECT_EQ(r.first_bad_index, i < header ? 40u : 41u) << "byte " << i << ": " << r.status;
    }
  }
  // The last entry has no successor: only the root shows the damage.
  std::vector<std::string> damaged = entries;
  damaged[99].back() ^= 0x01;
  ChainScanResult r = Scan(damaged, 8, 2);
  EXPECT_TRUE(r.status.ok());
  EXPECT_NE(r.root, Scan(entries, 8, 2).root);
}

TEST_F(ChainScanTest, ReaderErrorsAreReportedAsUnreadableAfterTheGoodPrefix) {
  EntryReader failing = [&](uint64_t, const std::function<bool(absl::string_view)>& sink) {
    for (uint64_t i = 0; i < 50; ++i) {
      if (!sink(entries[i])) return absl::OkStatus();
    }
    return absl::DataLossError("disk on fire");
  };
  ChainScanOptions options;
  options.chunk_entries = 16;
  options.threads = 2;
  ChainScanResult r = ScanChain(failing, options);
  EXPECT_TRUE(r.read_error);
  EXPECT_EQ(r.first_bad_index, 50u);
  EXPECT_EQ(r.size, 50u);
  EXPECT_EQ(r.status.message(), "disk on fire");
}

TEST(ReadEntryHeaderTest, MalformedBytesAreDataLossNotCrashes) {
  uint64_t index = 0;
  absl::string_view prev;
  const std::string hash(32, 'h');
  const std::string entry0 = "\x12\x20" + hash;
  ASSERT_TRUE(ReadEntryHeader(entry0, &index, &prev).ok());
  EXPECT_EQ(index, 0u);
  EXPECT_EQ(prev, hash);
  const std::string entry150 = std::string("\x08\x96\x01\x12\x20", 5) + hash;
  ASSERT_TRUE(ReadEntryHeader(entry150, &index, &prev).ok());
  EXPECT_EQ(index, 150u);  // the protobuf encoding guide's example varint
  EXPECT_EQ(prev, hash);
  const std::vector<std::string> bad = {
      "",
      std::string("\x08", 1),
      std::string("\x08\x96", 2),                                  // varint runs off the end
      std::string("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 11) + "\x12\x20" + hash,  // > 64 bits
      std::string("\x08\x01\x12\x20", 4) + hash.substr(0, 31),     // hash cut short
      std::string("\x08\x01\x12\x21", 4) + hash + "x",              // wrong length byte
      std::string("\x10\x01\x12\x20", 4) + hash,                   // field 2 where 1 must be
  };
  for (const std::string& b : bad) {
    absl::Status s = ReadEntryHeader(b, &index, &prev);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << HexEncode(b);
    EXPECT_FALSE(s.message().empty());
  }
}

// The fold of perfect subtrees against transparency-dev's golden roots.
TEST(PerfectBorderTest, FoldedChunkRootsMatchGoldenRoots) {
  std::ifstream in(std::string(TRIALOG_VECTORS_DIR) + "/merkle/compact-range-golden-roots.json");
  ASSERT_TRUE(in.good());
  nlohmann::json doc = nlohmann::json::parse(in);
  int checked = 0;
  for (const nlohmann::json& v : doc["vectors"]) {
    const uint64_t size = v["size"].get<uint64_t>();
    if (size == 0) continue;
    absl::StatusOr<std::string> want = Base64Decode(v["root"].get<std::string>());
    ASSERT_TRUE(want.ok());
    std::vector<std::string> leaves;
    for (uint64_t i = 0; i < size; ++i) {
      const char data[2] = {static_cast<char>(i & 0xff), static_cast<char>((i >> 8) & 0xff)};
      leaves.push_back(merkle::HashLeaf(absl::string_view(data, 2)));
    }
    for (uint32_t level : {0u, 1u, 3u, 5u}) {
      const uint64_t chunk = uint64_t{1} << level;
      PerfectBorder border;
      uint64_t i = 0;
      for (; i + chunk <= size; i += chunk) {
        std::vector<std::string> part(leaves.begin() + i, leaves.begin() + i + chunk);
        border.Append(level, merkle::RootFromLeafHashes(part));
      }
      EXPECT_EQ(border.size(), i);
      merkle::CompactTree tree = border.Tree();
      for (; i < size; ++i) tree.Append(leaves[i]);
      EXPECT_EQ(tree.Root(), *want) << "size " << size << " level " << level;
      ++checked;
    }
  }
  EXPECT_GE(checked, 20);
}

}  // namespace
}  // namespace trialog::ledger
