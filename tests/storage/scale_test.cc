// Scale: root and proofs of a 100,000-entry ledger equal an independent
// recomputation (merkle::RootFromLeafHashes over leaf hashes recomputed
// here from the stored entry bytes) at random sizes. Its own binary so the
// unit tests stay fast.

#include <algorithm>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/crypto/crypto.h"
#include "core/merkle/merkle.h"
#include "core/note/checkpoint.h"
#include "core/note/keys.h"
#include "gtest/gtest.h"
#include "storage/ledger.h"
#include "tests/storage/test_util.h"

namespace trialog::storage {
namespace {

using namespace ::trialog::storage::testing;  // NOLINT

#define ASSERT_OK(expr)                                   \
  do {                                                    \
    const absl::Status assert_ok_status_ = (expr);        \
    ASSERT_TRUE(assert_ok_status_.ok()) << assert_ok_status_; \
  } while (0)

// SHA-256(0x00 || bytes), computed here rather than by core/merkle.
std::string LeafHashOf(absl::string_view bytes) {
  return crypto::Sha256(std::string(1, '\0'), bytes);
}

note::Verifier VerifierOf(const LedgerHarness& h) {
  // Built from the signer's name and public key, not from the ledger.
  absl::StatusOr<note::Verifier> v =
      note::ParseVerifierKey(note::FormatVerifierKey(kOrigin, h.signer.key().public_key()));
  EXPECT_TRUE(v.ok()) << v.status();
  return *v;
}

// Signs `n` admin notes on a few streams, using both cores.
std::vector<Admitted> SignNotes(const Person& author, size_t n, uint32_t seed) {
  std::vector<Admitted> out(n);
  auto work = [&](size_t begin, size_t step) {
    std::mt19937 rng(seed + static_cast<uint32_t>(begin));
    for (size_t i = begin; i < n; i += step) {
      out[i] = NoteEventUnverified(author, absl::StrCat("subject/S-", rng() % 50),
                                   absl::StrCat("n", i));
    }
  };
  std::thread other(work, 1, 2);
  work(0, 2);
  other.join();
  return out;
}

TEST(LedgerScaleTest, RootAndProofsMatchIndependentRecomputation) {
  LedgerHarness h;
  LedgerOptions o;
  o.sync = false;  // allowed in this one test: 100k entries
  o.max_batch = 512;
  ASSERT_OK(h.Open(o));
  ASSERT_TRUE(h.ledger->Append(Genesis(h.admin)).ok());

  constexpr size_t kTotal = 100000;
  std::mt19937_64 rng(20260101);
  std::vector<Admitted> notes = SignNotes(h.admin, kTotal - 1, 7);
  size_t next = 0;
  while (next < notes.size()) {
    const size_t chunk = std::min<size_t>(1 + rng() % 3000, notes.size() - next);
    std::vector<Admitted> part(std::make_move_iterator(notes.begin() + next),
                               std::make_move_iterator(notes.begin() + next + chunk));
    for (const auto& r : h.ledger->AppendAll(std::move(part))) ASSERT_TRUE(r.ok()) << r.status();
    next += chunk;
  }
  ASSERT_EQ(h.ledger->size(), kTotal);

  // Leaf hashes recomputed from the stored bytes.
  std::vector<std::string> leaves;
  leaves.reserve(kTotal);
  ASSERT_OK(h.ledger->ReadRange(0, kTotal, [&](uint64_t i, absl::string_view b) {
    EXPECT_EQ(i, leaves.size());
    leaves.push_back(LeafHashOf(b));
    return true;
  }));
  ASSERT_EQ(leaves.size(), kTotal);

  std::vector<uint64_t> sizes = {1, 2, 3, 255, 256, 257, 4097, kTotal};
  for (int i = 0; i < 5; ++i) sizes.push_back(1 + rng() % kTotal);
  std::sort(sizes.begin(), sizes.end());
  std::map<uint64_t, std::string> roots;
  for (uint64_t s : sizes) {
    std::vector<std::string> prefix(leaves.begin(), leaves.begin() + s);
    roots[s] = merkle::RootFromLeafHashes(prefix);
    absl::StatusOr<std::string> root = h.ledger->RootAt(s);
    ASSERT_TRUE(root.ok()) << root.status();
    EXPECT_EQ(*root, roots[s]) << "size " << s;
    for (int k = 0; k < 8; ++k) {
      const uint64_t index = rng() % s;
      absl::StatusOr<std::vector<std::string>> proof = h.ledger->InclusionProof(index, s);
      ASSERT_TRUE(proof.ok()) << proof.status();
      EXPECT_TRUE(merkle::VerifyInclusion(index, s, leaves[index], *proof, roots[s]).ok())
          << "index " << index << " size " << s;
    }
  }
  for (size_t a = 0; a < sizes.size(); ++a) {
    for (size_t b = a; b < sizes.size(); ++b) {
      absl::StatusOr<std::vector<std::string>> proof =
          h.ledger->ConsistencyProof(sizes[a], sizes[b]);
      ASSERT_TRUE(proof.ok()) << proof.status();
      EXPECT_TRUE(merkle::VerifyConsistency(sizes[a], sizes[b], *proof, roots[sizes[a]],
                                            roots[sizes[b]])
                      .ok())
          << sizes[a] << " -> " << sizes[b];
    }
  }
  EXPECT_EQ(h.ledger->root(), roots[kTotal]);
  absl::StatusOr<note::Checkpoint> cp =
      note::OpenCheckpoint(h.ledger->latest_checkpoint(), VerifierOf(h));
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->size, kTotal);
  EXPECT_EQ(cp->root_hash, roots[kTotal]);

  h.Shut();
}

}  // namespace
}  // namespace trialog::storage
