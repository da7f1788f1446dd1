// The tamper suite (issue 5, "Tamper pinpointing"): a REAL ledger — the
// synthetic IMT trial appended to a trialogd data directory through
// storage::Ledger (admission, sequencer, RocksDB), then exported with
// `trialog export bundle` — is damaged in each way an insider could, and the
// real `trialog verify` binary must fail with the right class (exit code and
// JSON "result") and name the first bad index.
//
// Each damage is applied twice: to the RocksDB rows themselves (opened with
// the RocksDB API, rows rewritten behind the ledger's back) and to the export
// bundle's files, whose manifest is NOT re-signed. Where the bundle's signed
// manifest catches a damage before the ledger's own checks do (the files no
// longer match their hashes: unreadable, exit 2), that is the asserted
// class; a second bundle variant has the attacker re-sign the manifest with
// a key of their own (the exporter key not pinned), which leaves only the
// ledger's own cryptography to catch it. docs/AUDITOR.md has the same table.

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/crypto/crypto.h"
#include "core/ledger/admission.h"
#include "core/ledger/batch.h"
#include "core/ledger/entry.h"
#include "core/ledger/envelope_signer.h"
#include "core/merkle/merkle.h"
#include "core/note/checkpoint.h"
#include "core/trial/state_machine.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "storage/ledger.h"
#include "storage/schema.h"
#include "tests/export/test_ledger.h"
#include "tests/export/test_util.h"
#include "tools/export/bundle.h"
#include "tools/export/bundle_format.h"
#include "tools/export/event_json.h"

namespace trialog::tamper_test {
namespace {

using export_test::CommandResult;
using export_test::ReadAll;
using export_test::RunCommand;
using export_test::SharedLedger;
using export_test::ShellQuote;
using export_test::WriteAll;

std::string Trialog() { return std::string(TRIALOG_BINARY_DIR) + "/tools/trialog"; }

// What the auditor sees of a ledger: its entries and its signed checkpoint.
struct View {
  std::vector<std::string> entries;
  std::string checkpoint;
};

struct Env {
  std::string dir, data, trial, bundle, vkey_file, published_cp, exporter_key, passphrase_file;
  View pristine;
};

// The batch-signed import appended after the synthetic plan.
constexpr size_t kBatchEntries = 8;
constexpr absl::string_view kBatchSigner = "lab-central-ngs";

// Appends the synthetic plan to <data>/trials/<trial>/ as trialogd would
// (the same genesis, registrations and steps as export_test's ledger).
absl::Status WriteDataDirectory(const std::string& data, std::string* trial_id) {
  const export_test::TestLedger& l = SharedLedger();
  const trial::SyntheticTrialPlan& plan = l.plan;
  *trial_id = plan.trial_id;
  ledger::PrincipalRegistry registry;
  trial::TrialStateMachine sm;
  storage::LedgerOptions options;
  options.dir = absl::StrCat(data, "/trials/", plan.trial_id);
  options.checkpoint_signer = &l.ledger_signer;
  options.sync = false;
  std::filesystem::create_directories(options.dir);
  absl::StatusOr<std::unique_ptr<storage::Ledger>> ledger = storage::Ledger::Open(options, &registry, {&sm});
  if (!ledger.ok()) return ledger.status();
  auto append = [&](const v1::Envelope& env) -> absl::Status {
    v1::SignedEnvelope signed_env = ledger::SignEnvelope(env, l.keys.at(env.actor().principal_id()));
    absl::StatusOr<ledger::AdmittedEnvelope> admitted = ledger::Admit(plan.trial_id, signed_env, registry);
    if (!admitted.ok()) return admitted.status();
    return (*ledger)->Append(*std::move(admitted)).status();
  };
  for (size_t i = 0; i < 1 + plan.principals.size(); ++i) {
    absl::StatusOr<ledger::ParsedEntry> e = ledger::ParseEntry(l.entries[i]);
    if (!e.ok()) return e.status();
    if (absl::Status s = append(e->envelope); !s.ok()) return s;
  }
  for (const trial::SyntheticStep& step : plan.steps) {
    v1::Envelope env;
    env.set_trial_id(plan.trial_id);
    env.set_stream_id(step.stream_id);
    env.set_event_id(step.event_id);
    *env.mutable_observed_at() = step.observed_at;
    *env.mutable_actor() = step.actor;
    env.set_reason(step.reason);
    *env.mutable_event() = step.event;
    if (step.needs_signature_hashes) {
      absl::Status s =
          sm.FillSignatureHashes(step.stream_id, env.mutable_event()->mutable_trial()->mutable_e_signature());
      if (!s.ok()) return s;
    }
    absl::Status s = append(env);
    if (!s.ok() && !step.expect_refused) return absl::InternalError(absl::StrCat(step.description, ": ", s.message()));
  }
  // Then a batch-signed bulk import by the central lab (docs/FORMAT.md §1.1):
  // kBatchEntries notes under ONE signature, each entry with its batch proof.
  std::vector<std::string> envelopes;
  for (size_t i = 0; i < kBatchEntries; ++i) {
    v1::Envelope env;
    env.set_trial_id(plan.trial_id);
    env.set_stream_id("lab-import");
    env.set_event_id(crypto::Sha256(absl::StrCat("tamper batch ", i)).substr(0, 16));
    env.mutable_observed_at()->set_unix_micros(plan.steps.back().observed_at.unix_micros());
    env.mutable_actor()->set_principal_id(std::string(kBatchSigner));
    env.mutable_actor()->set_printed_name("Central molecular laboratory");
    env.mutable_actor()->set_role(v1::ROLE_EXTERNAL_SYSTEM);
    env.mutable_event()->mutable_trial()->mutable_note()->set_text(absl::StrCat("imported result ", i));
    envelopes.push_back(env.SerializeAsString());
  }
  absl::StatusOr<v1::SignedBatch> batch =
      ledger::SignBatch(plan.trial_id, std::move(envelopes), l.keys.at(std::string(kBatchSigner)));
  if (!batch.ok()) return batch.status();
  absl::StatusOr<ledger::AdmittedBatch> admitted = ledger::PrepareBatchAdmission(plan.trial_id, *batch, registry);
  if (!admitted.ok()) return admitted.status();
  if (absl::Status s = ledger::VerifyBatchAdmission(*admitted); !s.ok()) return s;
  for (absl::StatusOr<storage::AppendResult>& r : (*ledger)->AppendAll(std::move(admitted->envelopes))) {
    if (!r.ok()) return r.status();
  }
  return (*ledger)->Close();
}

std::unique_ptr<storage::Db> OpenDb(const std::string& dir, bool read_only) {
  storage::DbOptions o;
  o.dir = dir;
  o.create_if_missing = false;
  o.read_only = read_only;
  absl::StatusOr<std::unique_ptr<storage::Db>> db = storage::Db::Open(o);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? *std::move(db) : nullptr;
}

std::string TrialDir(const std::string& data, const std::string& trial) {
  return absl::StrCat(data, "/trials/", trial);
}

View ReadRocks(const std::string& dir) {
  View v;
  std::unique_ptr<storage::Db> db = OpenDb(dir, /*read_only=*/true);
  if (!db) return v;
  std::unique_ptr<rocksdb::Iterator> it = db->NewIterator(storage::Cf::kEntries);
  for (it->SeekToFirst(); it->Valid(); it->Next()) v.entries.emplace_back(it->value().data(), it->value().size());
  EXPECT_TRUE(it->status().ok());
  absl::StatusOr<std::string> cp = db->Get(storage::Cf::kMeta, storage::kMetaCheckpoint);
  EXPECT_TRUE(cp.ok()) << cp.status();
  if (cp.ok()) v.checkpoint = *cp;
  return v;
}

const Env& TamperSetup() {
  static const Env* env = [] {
    auto* e = new Env;
    e->dir = export_test::NewTempDir("tamper");
    e->data = e->dir + "/data";
    e->bundle = e->dir + "/bundle";
    e->vkey_file = e->dir + "/ledger.vkey";
    e->published_cp = e->dir + "/published.cp";
    e->exporter_key = e->dir + "/exporter.key";
    e->passphrase_file = e->dir + "/passphrase";
    absl::Status s = WriteDataDirectory(e->data, &e->trial);
    EXPECT_TRUE(s.ok()) << s;
    WriteAll(e->vkey_file, SharedLedger().ledger_vkey + "\n");
    e->pristine = ReadRocks(TrialDir(e->data, e->trial));
    // The checkpoint the auditor saved when it was published.
    WriteAll(e->published_cp, e->pristine.checkpoint);
    WriteAll(e->passphrase_file, "exporter passphrase\n");
    CommandResult r = RunCommand(absl::StrCat(Trialog(), " keygen --weak-kdf --name exports.example/cro --out ",
                                              ShellQuote(e->exporter_key), " --passphrase-file ",
                                              ShellQuote(e->passphrase_file)));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    r = RunCommand(absl::StrCat(Trialog(), " export bundle --data ", ShellQuote(e->data), " --trial ", e->trial,
                                " --key @", ShellQuote(e->vkey_file), " --exporter-key-file ",
                                ShellQuote(e->exporter_key), " --passphrase-file ", ShellQuote(e->passphrase_file),
                                " --out ", ShellQuote(e->bundle)));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return e;
  }();
  return *env;
}

// --- damage -------------------------------------------------------------------

ledger::ParsedEntry Parse(const std::string& bytes) {
  absl::StatusOr<ledger::ParsedEntry> e = ledger::ParseEntry(bytes);
  EXPECT_TRUE(e.ok()) << e.status();
  return e.ok() ? *std::move(e) : ledger::ParsedEntry{};
}

// A checkpoint over `entries`, signed by `signer` with the ledger's origin.
std::string SignedCheckpoint(const std::vector<std::string>& entries, const note::NoteSigner& signer) {
  std::vector<std::string> leaves;
  for (const std::string& b : entries) leaves.push_back(merkle::HashLeaf(b));
  note::Checkpoint c;
  c.origin = SharedLedger().origin;
  c.size = entries.size();
  c.root_hash = merkle::RootFromLeafHashes(leaves);
  return *note::SignCheckpoint(c, signer);
}

// The entry bytes of `e` with a new signed envelope.
std::string WithEnvelope(const ledger::ParsedEntry& e, const v1::SignedEnvelope& signed_env) {
  v1::Entry entry = e.entry;
  *entry.mutable_signed_envelope() = signed_env;
  return ledger::SerializeEntry(entry);
}

// An entry at position `at` (taking the place of entry `at`, same index,
// chain link, time and stream version), carrying a Note by the same actor,
// signed with `key`.
std::string ForgedNote(const View& v, size_t at, const crypto::SigningKey& key) {
  ledger::ParsedEntry original = Parse(v.entries[at]);
  v1::Envelope env = original.envelope;
  env.set_event_id(std::string(16, '\x5a'));
  env.set_reason("");
  env.mutable_event()->Clear();
  env.mutable_event()->mutable_trial()->mutable_note()->set_text("forged: dose given as prescribed");
  return WithEnvelope(original, ledger::SignEnvelope(env, key));
}

// Re-links entries [from, end) after entry from-1 changed: each keeps its
// signed envelope (still valid) and gets the new prev_leaf_hash, as the
// holder of the database (and of the ledger key) could do.
void Relink(View& v, size_t from) {
  for (size_t i = from; i < v.entries.size(); ++i) {
    v1::Entry entry = Parse(v.entries[i]).entry;
    entry.set_prev_leaf_hash(merkle::HashLeaf(v.entries[i - 1]));
    v.entries[i] = ledger::SerializeEntry(entry);
  }
}

// The first entry after `from` that is an e-signature over a record whose
// leaf hash is that of an entry at or after `from` (read from the entries).
std::optional<size_t> FirstSignatureOver(const View& v, size_t from) {
  std::set<std::string> leaves;
  for (size_t j = from; j < v.entries.size(); ++j) {
    ledger::ParsedEntry e = Parse(v.entries[j]);
    if (j > from && e.envelope.event().trial().has_e_signature()) {
      for (const v1::SignedRecord& r : e.envelope.event().trial().e_signature().records()) {
        if (leaves.count(r.record_hash())) return j;
      }
    }
    leaves.insert(e.leaf_hash);
  }
  return std::nullopt;
}

// One way of damaging a ledger, and what verify must say.
struct Expect {
  int exit_code;
  std::string result;
  std::optional<uint64_t> first_bad_index;
};
struct Damage {
  Damage(std::string n, std::function<void(View&)> a, Expect r, Expect b)
      : name(std::move(n)), apply(std::move(a)), rocks(std::move(r)), bundle(std::move(b)) {}
  std::string name;
  std::function<void(View&)> apply;
  Expect rocks;            // damage in RocksDB
  Expect bundle;           // damage in the bundle, manifest not re-signed
  bool trusted = false;    // verify with --trusted published.cp
  // RocksDB: delete this row instead of rewriting the shifted rows.
  std::optional<size_t> rocks_delete_row;
};

constexpr size_t kTailCut = 5;

// Where damage lands: an entry in the middle of the ledger signed by a
// person who is not the first administrator (so keys differ), and the
// index of the entry the verifier must name.
size_t Victim(const View& v) {
  for (size_t i = v.entries.size() / 2; i < v.entries.size(); ++i) {
    ledger::ParsedEntry e = Parse(v.entries[i]);
    if (e.envelope.event().has_trial() && !e.envelope.actor().printed_name().empty() &&
        e.envelope.actor().role() != v1::ROLE_SPONSOR_ADMIN) {
      return i;
    }
  }
  ADD_FAILURE() << "no victim entry";
  return 1;
}

std::vector<Damage> Damages(const Env& env) {
  const size_t k = Victim(env.pristine);
  const size_t n = env.pristine.entries.size();
  const Expect unreadable{2, "unreadable", std::nullopt};
  const crypto::SigningKey attacker = export_test::TestKey("attacker");
  std::vector<Damage> d;

  d.push_back({"byte flipped in the signed envelope (printed name)",
               [k](View& v) {
                 const std::string name = Parse(v.entries[k]).envelope.actor().printed_name();
                 const size_t at = v.entries[k].find(name);
                 ASSERT_NE(at, std::string::npos);
                 v.entries[k][at + 1] ^= 0x01;
               },
               {4, "envelope_signature", k}, {4, "envelope_signature", k}});
  d.push_back({"byte flipped in the chain link (prev_leaf_hash)",
               [k](View& v) {
                 const std::string prev = Parse(v.entries[k]).entry.prev_leaf_hash();
                 const size_t at = v.entries[k].find(prev);
                 ASSERT_NE(at, std::string::npos);
                 v.entries[k][at + 7] ^= 0x80;
               },
               {3, "chain_damage", k}, {3, "chain_damage", k}});
  d.push_back({"byte flipped in the envelope signature",
               [k](View& v) { v.entries[k].back() ^= 0x01; },  // the signature is the last 64 bytes
               {4, "envelope_signature", k}, {4, "envelope_signature", k}});
  d.push_back({"byte flipped so the entry no longer parses",
               [k](View& v) { v.entries[k][0] = 0x0f; },  // field 1 with wire type 7: no such wire type
               {3, "chain_damage", k}, {3, "chain_damage", k}});
  {
    Damage del{"entry deleted", [k](View& v) { v.entries.erase(v.entries.begin() + static_cast<long>(k)); },
               {3, "chain_damage", k}, {3, "chain_damage", k}};
    del.rocks_delete_row = k;
    d.push_back(del);
  }
  d.push_back({"two entries reordered",
               [k](View& v) { std::swap(v.entries[k], v.entries[k + 1]); },
               {3, "chain_damage", k}, {3, "chain_damage", k}});
  d.push_back({"forged entry inserted, signed with the attacker's key",
               [k, attacker](View& v) {
                 v.entries.insert(v.entries.begin() + static_cast<long>(k), ForgedNote(v, k, attacker));
               },
               {4, "envelope_signature", k}, {4, "envelope_signature", k}});
  d.push_back({"forged entry inserted, signed with the principal's stolen key",
               [k](View& v) {
                 const std::string who = Parse(v.entries[k]).envelope.actor().principal_id();
                 v.entries.insert(v.entries.begin() + static_cast<long>(k),
                                  ForgedNote(v, k, SharedLedger().keys.at(who)));
               },
               // The forgery itself verifies; the entry it displaced does not link.
               {3, "chain_damage", k + 1}, {3, "chain_damage", k + 1}});
  d.push_back({"signature replaced by the attacker's signature over the same envelope",
               [k, attacker](View& v) {
                 ledger::ParsedEntry e = Parse(v.entries[k]);
                 v1::SignedEnvelope s = e.entry.signed_envelope();
                 s.set_signature(attacker.Sign(ledger::EnvelopeSigningMessage(s.envelope())));
                 v.entries[k] = WithEnvelope(e, s);
               },
               {4, "envelope_signature", k}, {4, "envelope_signature", k}});
  // Batch-signed entries (bulk import): damage at position 3 of the batch
  // of kBatchEntries at the ledger's end.
  const size_t kb = n - kBatchEntries + 3;
  auto with_proof = [](View& v, size_t at, const std::function<void(v1::BatchProof&)>& change) {
    ledger::ParsedEntry e = Parse(v.entries[at]);
    v1::SignedEnvelope s = e.entry.signed_envelope();
    ASSERT_TRUE(s.has_batch_proof());
    change(*s.mutable_batch_proof());
    v.entries[at] = WithEnvelope(e, s);
  };
  d.push_back({"batch-signed entry: byte flipped in the envelope",
               [kb](View& v) {
                 const std::string text = Parse(v.entries[kb]).envelope.event().trial().note().text();
                 const size_t at = v.entries[kb].find(text);
                 ASSERT_NE(at, std::string::npos);
                 v.entries[kb][at] ^= 0x01;
               },
               {4, "envelope_signature", kb}, {4, "envelope_signature", kb}});
  d.push_back({"batch-signed entry: byte flipped in an inclusion path node",
               [kb](View& v) {
                 const std::string node = Parse(v.entries[kb]).entry.signed_envelope().batch_proof().path(1);
                 const size_t at = v.entries[kb].find(node);
                 ASSERT_NE(at, std::string::npos);
                 v.entries[kb][at + 9] ^= 0x10;
               },
               {4, "envelope_signature", kb}, {4, "envelope_signature", kb}});
  d.push_back({"batch-signed entry: byte flipped in the batch signature",
               [kb, with_proof](View& v) {
                 with_proof(v, kb, [](v1::BatchProof& p) { (*p.mutable_signature())[20] ^= 0x02; });
               },
               {4, "envelope_signature", kb}, {4, "envelope_signature", kb}});
  d.push_back({"batch-signed entry: position changed",
               [kb, with_proof](View& v) {
                 with_proof(v, kb, [](v1::BatchProof& p) { p.set_position(p.position() + 1); });
               },
               {4, "envelope_signature", kb}, {4, "envelope_signature", kb}});
  d.push_back({"batch-signed entry: batch proof replaced by the attacker's own batch signature",
               [kb, attacker](View& v) {
                 ledger::ParsedEntry e = Parse(v.entries[kb]);
                 absl::StatusOr<v1::SignedBatch> forged =
                     ledger::SignBatch(e.envelope.trial_id(), {e.entry.signed_envelope().envelope()}, attacker);
                 ASSERT_TRUE(forged.ok());
                 absl::StatusOr<std::vector<v1::BatchProof>> proofs = ledger::BuildBatchProofs(*forged);
                 ASSERT_TRUE(proofs.ok());
                 v1::SignedEnvelope s = e.entry.signed_envelope();
                 *s.mutable_batch_proof() = (*proofs)[0];
                 v.entries[kb] = WithEnvelope(e, s);
               },
               {4, "envelope_signature", kb}, {4, "envelope_signature", kb}});
  d.push_back({"tail truncated, checkpoint left as it was",
               [](View& v) { v.entries.resize(v.entries.size() - kTailCut); },
               {3, "chain_damage", n - kTailCut},
               // All remaining records verify; then entries.bin's hash does not match the manifest.
               unreadable});
  d.push_back({"tail truncated, checkpoint re-signed by the ledger key (no trusted checkpoint)",
               [](View& v) {
                 v.entries.resize(v.entries.size() - kTailCut);
                 v.checkpoint = SignedCheckpoint(v.entries, SharedLedger().ledger_signer);
               },
               // Undetectable from the ledger alone: a shorter, consistent ledger.
               {0, "ok", std::nullopt}, unreadable});
  {
    Damage t{"tail truncated after a published checkpoint, checkpoint re-signed",
             [](View& v) {
               v.entries.resize(v.entries.size() - kTailCut);
               v.checkpoint = SignedCheckpoint(v.entries, SharedLedger().ledger_signer);
             },
             {7, "inconsistent", std::nullopt}, unreadable};
    t.trusted = true;
    d.push_back(t);
  }
  d.push_back({"ledger key swapped (checkpoint re-signed by another key under the ledger's name)",
               [](View& v) {
                 v.checkpoint = SignedCheckpoint(
                     v.entries, note::NoteSigner(SharedLedger().origin, export_test::TestKey("usurper")));
               },
               {5, "checkpoint_signature", std::nullopt}, unreadable});
  // History rewritten by someone holding a principal's key and the ledger
  // key: entry `from` re-signed (a changed client time), every later entry
  // re-linked (their envelope signatures stay valid), the checkpoint
  // re-signed. Later e-signatures bind the leaf hashes of the records they
  // sign, so the first one over a rewritten record breaks a rule (6);
  // a rewrite after the last such e-signature shows only against a
  // checkpoint trusted earlier (7).
  auto rewrite = [](size_t from) {
    return [from](View& v) {
      ledger::ParsedEntry e = Parse(v.entries[from]);
      v1::Envelope changed = e.envelope;
      changed.set_client_unix_micros(changed.client_unix_micros() + 1);
      v.entries[from] = WithEnvelope(
          e, ledger::SignEnvelope(changed, SharedLedger().keys.at(changed.actor().principal_id())));
      Relink(v, from + 1);
      v.checkpoint = SignedCheckpoint(v.entries, SharedLedger().ledger_signer);
    };
  };
  const std::optional<size_t> signed_after_k = FirstSignatureOver(env.pristine, k);
  EXPECT_TRUE(signed_after_k.has_value()) << "the synthetic trial signs records after entry " << k;
  {
    Damage r{"history rewritten from entry k on and re-signed",
             rewrite(k), {6, "rule_violation", signed_after_k.value_or(0)}, unreadable};
    r.trusted = true;
    d.push_back(r);
  }
  // The synthetic trial ends with e-signatures (entry n-2 signs n-3): only
  // the last entry is signed by nobody later.
  const size_t tail = n - 1;
  EXPECT_FALSE(FirstSignatureOver(env.pristine, tail).has_value()) << "no e-signature covers the last entry";
  {
    Damage r{"last entry rewritten and re-signed, after a published checkpoint",
             rewrite(tail), {7, "inconsistent", std::nullopt}, unreadable};
    r.trusted = true;
    d.push_back(r);
  }
  return d;
}

// --- applying damage ------------------------------------------------------------

// Rewrites the rows of a copy of the data directory that differ from the
// pristine view, and the meta checkpoint row when it changed.
void ApplyToRocks(const std::string& trial_dir, const View& pristine, const View& damaged,
                  std::optional<size_t> delete_row) {
  std::unique_ptr<storage::Db> db = OpenDb(trial_dir, /*read_only=*/false);
  ASSERT_NE(db, nullptr);
  rocksdb::WriteOptions w;
  auto* entries = db->handle(storage::Cf::kEntries);
  if (delete_row) {
    ASSERT_TRUE(db->rocks()->Delete(w, entries, storage::EntryKey(*delete_row)).ok());
  } else {
    for (size_t i = 0; i < std::max(pristine.entries.size(), damaged.entries.size()); ++i) {
      if (i >= damaged.entries.size()) {
        ASSERT_TRUE(db->rocks()->Delete(w, entries, storage::EntryKey(i)).ok());
      } else if (i >= pristine.entries.size() || damaged.entries[i] != pristine.entries[i]) {
        ASSERT_TRUE(db->rocks()->Put(w, entries, storage::EntryKey(i), damaged.entries[i]).ok());
      }
    }
  }
  if (damaged.checkpoint != pristine.checkpoint) {
    auto* meta = db->handle(storage::Cf::kMeta);
    ASSERT_TRUE(db->rocks()->Put(w, meta, std::string(storage::kMetaCheckpoint), damaged.checkpoint).ok());
  }
  ASSERT_TRUE(db->Close().ok());
}

// Writes the damaged entries and checkpoint into a copy of the bundle; the
// manifest is not re-signed.
void ApplyToBundle(const std::string& dir, const View& damaged) {
  absl::StatusOr<std::string> file = exporter::EncodeEntriesFile(damaged.entries);
  ASSERT_TRUE(file.ok()) << file.status();
  WriteAll(dir + "/entries.bin", *file);
  WriteAll(dir + "/checkpoint.note", damaged.checkpoint);
}

// The attacker's bundle: the damaged ledger with every derived file
// (events.jsonl, README, manifest counts and hashes) made consistent and the
// manifest signed by the attacker's own exporter key.
void ResignBundle(const std::string& src, const std::string& dst, const View& damaged) {
  absl::StatusOr<exporter::OpenedBundle> b = exporter::OpenBundle(src);
  ASSERT_TRUE(b.ok()) << b.status();
  std::map<std::string, std::string> files = b->files;
  absl::StatusOr<std::string> file = exporter::EncodeEntriesFile(damaged.entries);
  ASSERT_TRUE(file.ok());
  files["entries.bin"] = *file;
  files["checkpoint.note"] = damaged.checkpoint;
  std::string lines;
  for (const std::string& bytes : damaged.entries) {
    absl::StatusOr<std::string> line = exporter::EventJsonLine(Parse(bytes));
    ASSERT_TRUE(line.ok());
    absl::StrAppend(&lines, *line, "\n");
  }
  files["events.jsonl"] = lines;
  exporter::Manifest m = b->manifest;
  absl::StatusOr<note::Checkpoint> cp = note::ParseCheckpoint(damaged.checkpoint.substr(0, damaged.checkpoint.find("\n\n") + 1));
  ASSERT_TRUE(cp.ok()) << cp.status();
  m.checkpoint_size = cp->size;
  m.checkpoint_root = cp->root_hash;
  m.entries = damaged.entries.size();
  m.last_index = damaged.entries.size() - 1;
  m.head = merkle::HashLeaf(damaged.entries.back());
  note::NoteSigner forger(b->exporter_key.name, export_test::TestKey("forger"));
  files["README.txt"] = exporter::BundleReadme(m, files["ledger.vkey"], forger.verifier_key());
  m.files.clear();
  ASSERT_TRUE(exporter::WriteBundleDirectory(dst, m, files, forger).ok());
}

struct Outcome {
  int exit_code = -1;
  std::string result;
  std::optional<uint64_t> first_bad_index;
  std::string output;
};

Outcome RunVerify(const Env& env, const std::string& source_flags, bool trusted, const std::string& extra = "") {
  CommandResult r = RunCommand(absl::StrCat(Trialog(), " verify ", source_flags, " --key @", ShellQuote(env.vkey_file),
                                            trusted ? absl::StrCat(" --trusted @", ShellQuote(env.published_cp)) : "",
                                            " --json", extra, " 2>/dev/null"));
  Outcome o;
  o.exit_code = r.exit_code;
  o.output = r.output;
  nlohmann::json j = nlohmann::json::parse(r.output, nullptr, false);
  EXPECT_TRUE(j.is_object()) << r.output;
  if (!j.is_object()) return o;
  o.result = j.value("result", "");
  if (j.contains("first_bad_index") && j["first_bad_index"].is_number_unsigned()) {
    o.first_bad_index = j["first_bad_index"].get<uint64_t>();
  }
  EXPECT_EQ(j.value("exit_code", -1), r.exit_code);
  return o;
}

void ExpectOutcome(const Outcome& got, const Expect& want, const std::string& what) {
  EXPECT_EQ(got.exit_code, want.exit_code) << what << "\n" << got.output;
  EXPECT_EQ(got.result, want.result) << what << "\n" << got.output;
  EXPECT_EQ(got.first_bad_index, want.first_bad_index) << what << "\n" << got.output;
}

// Damaged copies are removed once checked (TRIALOG_KEEP_TEST_FILES=1 keeps them).
void RemoveUnlessKept(const std::string& dir) {
  if (std::getenv("TRIALOG_KEEP_TEST_FILES") == nullptr) std::filesystem::remove_all(dir);
}

std::string Slug(const std::string& name) {
  std::string s;
  for (char c : name) s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return s.substr(0, 40);
}

// --- tests ----------------------------------------------------------------------

TEST(Tamper, PristineLedgerVerifiesEverywhere) {
  const Env& env = TamperSetup();
  ASSERT_GT(env.pristine.entries.size(), 100u);
  ASSERT_EQ(env.pristine.entries.size(), SharedLedger().entries.size() + kBatchEntries);
  const size_t k = Victim(env.pristine);
  std::printf("ledger: %zu entries; damage at k = %zu; first e-signature over a rewrite from k: %zu\n",
              env.pristine.entries.size(), k, FirstSignatureOver(env.pristine, k).value_or(0));
  const std::string data = absl::StrCat("--data ", ShellQuote(env.data), " --trial ", env.trial);
  Outcome o = RunVerify(env, data, /*trusted=*/true);
  ExpectOutcome(o, {0, "ok", std::nullopt}, "pristine data directory");
  o = RunVerify(env, absl::StrCat("--bundle ", ShellQuote(env.bundle)), /*trusted=*/true);
  ExpectOutcome(o, {0, "ok", std::nullopt}, "pristine bundle");
}

TEST(Tamper, EachDamageInRocksDbIsCaughtWithItsClassAndFirstBadIndex) {
  const Env& env = TamperSetup();
  for (const Damage& d : Damages(env)) {
    SCOPED_TRACE(d.name);
    View damaged = env.pristine;
    d.apply(damaged);
    const std::string copy = absl::StrCat(env.dir, "/rocks_", Slug(d.name));
    std::filesystem::remove_all(copy);
    std::filesystem::copy(env.data, copy, std::filesystem::copy_options::recursive);
    ApplyToRocks(TrialDir(copy, env.trial), env.pristine, damaged, d.rocks_delete_row);
    // The store really holds the damage (read back independently).
    View back = ReadRocks(TrialDir(copy, env.trial));
    EXPECT_EQ(back.checkpoint, damaged.checkpoint);
    if (!d.rocks_delete_row) {
      EXPECT_TRUE(back.entries == damaged.entries);
    }
    Outcome o = RunVerify(env, absl::StrCat("--data ", ShellQuote(copy), " --trial ", env.trial), d.trusted);
    ExpectOutcome(o, d.rocks, "rocksdb: " + d.name);
    RemoveUnlessKept(copy);
  }
}

TEST(Tamper, EachDamageInABundleIsCaughtWithoutReSigning) {
  const Env& env = TamperSetup();
  for (const Damage& d : Damages(env)) {
    SCOPED_TRACE(d.name);
    View damaged = env.pristine;
    d.apply(damaged);
    const std::string copy = absl::StrCat(env.dir, "/bundle_", Slug(d.name));
    std::filesystem::remove_all(copy);
    std::filesystem::copy(env.bundle, copy);
    ApplyToBundle(copy, damaged);
    Outcome o = RunVerify(env, absl::StrCat("--bundle ", ShellQuote(copy)), d.trusted);
    ExpectOutcome(o, d.bundle, "bundle: " + d.name);
    RemoveUnlessKept(copy);
  }
}

// The damages the manifest catches first, with the manifest re-signed by
// the attacker: the ledger's own checks give the same class as in RocksDB;
// pinning the real exporter key refuses the bundle outright.
TEST(Tamper, ReSignedBundleFallsBackOnTheLedgersOwnChecks) {
  const Env& env = TamperSetup();
  CommandResult kr = RunCommand(absl::StrCat("cat ", ShellQuote(env.bundle + "/exporter.vkey")));
  const std::string pinned = env.dir + "/pinned.vkey";
  WriteAll(pinned, kr.output);
  int checked = 0;
  for (const Damage& d : Damages(env)) {
    if (d.bundle.exit_code != 2 || d.name.find("left as it was") != std::string::npos) continue;
    SCOPED_TRACE(d.name);
    View damaged = env.pristine;
    d.apply(damaged);
    const std::string copy = absl::StrCat(env.dir, "/resigned_", Slug(d.name));
    std::filesystem::remove_all(copy);
    ResignBundle(env.bundle, copy, damaged);
    Outcome o = RunVerify(env, absl::StrCat("--bundle ", ShellQuote(copy)), d.trusted);
    ExpectOutcome(o, d.rocks, "re-signed bundle: " + d.name);
    o = RunVerify(env, absl::StrCat("--bundle ", ShellQuote(copy), " --exporter-key @", ShellQuote(pinned)),
                  d.trusted);
    ExpectOutcome(o, {2, "unreadable", std::nullopt}, "re-signed bundle, exporter key pinned: " + d.name);
    RemoveUnlessKept(copy);
    ++checked;
  }
  EXPECT_EQ(checked, 5);
}

// `verify --chain-only` (hashes, links, Merkle root, checkpoints; no
// envelope signatures or rules) on the same damaged stores: it passes only
// what the full verify passes (a tail truncated and re-signed by the ledger
// key, with no trusted checkpoint); checkpoint, trust and read failures keep
// their class; an entry problem is named at the same entry or, for damage
// inside an entry's bytes, at the next entry's link (or as a root mismatch),
// unless the history was re-chained and re-signed, which only a trusted
// checkpoint can show (exit 7).
TEST(Tamper, ChainOnlyScanCatchesEveryDamageInRocksDb) {
  const Env& env = TamperSetup();
  const std::string data = absl::StrCat("--data ", ShellQuote(env.data), " --trial ", env.trial);
  Outcome pristine = RunVerify(env, data, /*trusted=*/true, " --chain-only");
  ExpectOutcome(pristine, {0, "ok", std::nullopt}, "pristine data directory, chain only");
  EXPECT_NE(pristine.output.find("\"chain_only\""), std::string::npos) << pristine.output;
  for (const Damage& d : Damages(env)) {
    SCOPED_TRACE(d.name);
    View damaged = env.pristine;
    d.apply(damaged);
    const std::string copy = absl::StrCat(env.dir, "/chain_", Slug(d.name));
    std::filesystem::remove_all(copy);
    std::filesystem::copy(env.data, copy, std::filesystem::copy_options::recursive);
    ApplyToRocks(TrialDir(copy, env.trial), env.pristine, damaged, d.rocks_delete_row);
    Outcome o = RunVerify(env, absl::StrCat("--data ", ShellQuote(copy), " --trial ", env.trial), d.trusted,
                          " --chain-only");
    if (d.rocks.exit_code == 0 || d.rocks.exit_code == 2 || d.rocks.exit_code == 5 || d.rocks.exit_code == 7) {
      ExpectOutcome(o, d.rocks, "chain only: " + d.name);
    } else if (d.trusted && (d.rocks.exit_code == 4 || d.rocks.exit_code == 6) && o.exit_code == 7) {
      EXPECT_EQ(o.result, "inconsistent") << d.name;
    } else {
      EXPECT_EQ(o.exit_code, 3) << d.name << "\n" << o.output;
      EXPECT_EQ(o.result, "chain_damage") << d.name;
      if (o.first_bad_index && d.rocks.first_bad_index) {
        EXPECT_GE(*o.first_bad_index, *d.rocks.first_bad_index) << d.name << "\n" << o.output;
        EXPECT_LE(*o.first_bad_index, *d.rocks.first_bad_index + 1) << d.name << "\n" << o.output;
      }
    }
    RemoveUnlessKept(copy);
  }
}

// Every damage changes what the verifier reads (no case is vacuous): the
// damaged view differs from the pristine one.
TEST(Tamper, EveryDamageChangesTheLedger) {
  const Env& env = TamperSetup();
  for (const Damage& d : Damages(env)) {
    View damaged = env.pristine;
    d.apply(damaged);
    EXPECT_TRUE(damaged.entries != env.pristine.entries || damaged.checkpoint != env.pristine.checkpoint) << d.name;
  }
}

}  // namespace
}  // namespace trialog::tamper_test
