// Test ledgers for the witness tests: a CompactTree plus every perfect node
// (for consistency proofs), checkpoints signed with a NoteSigner. Copy a
// TestLedger to fork it: both copies share history up to the copy and the
// signing key, then diverge.

#ifndef TRIALOG_TESTS_WITNESS_TEST_LEDGER_H_
#define TRIALOG_TESTS_WITNESS_TEST_LEDGER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/merkle/merkle.h"
#include "core/note/checkpoint.h"
#include "core/note/keys.h"
#include "gtest/gtest.h"
#include "tests/core/merkle/memory_node_source.h"
#include "witness/protocol.h"

namespace trialog::witness::testing {

class TestLedger {
 public:
  explicit TestLedger(note::NoteSigner signer) : signer_(std::move(signer)) {}

  // Appends `n` leaves "tag-<index>".
  void Append(uint64_t n, const std::string& tag = "entry") {
    for (uint64_t i = 0; i < n; ++i) {
      tree_.Append(merkle::HashLeaf(absl::StrCat(tag, "-", tree_.size())), nodes_.Recorder());
    }
  }
  uint64_t size() const { return tree_.size(); }
  std::string root() const { return tree_.Root(); }
  const note::NoteSigner& signer() const { return signer_; }

  // The checkpoint at the current size, signed by the ledger key (plus
  // `extensions` lines, if any).
  std::string Checkpoint(std::vector<std::string> extensions = {}) const {
    note::Checkpoint c{signer_.name(), tree_.size(), tree_.Root(), std::move(extensions)};
    absl::StatusOr<std::string> signed_note = note::SignCheckpoint(c, signer_);
    EXPECT_TRUE(signed_note.ok()) << signed_note.status();
    return signed_note.ok() ? *signed_note : std::string();
  }
  // The checkpoint's text (the signed part of the note).
  std::string CheckpointText() const {
    return note::FormatCheckpoint({signer_.name(), tree_.size(), tree_.Root(), {}});
  }

  // RFC 6962 consistency proof from `old_size` to the current size (empty
  // for old_size 0 or the current size).
  std::vector<std::string> Proof(uint64_t old_size) const {
    if (old_size == 0 || old_size >= tree_.size()) return {};  // none, or a bad request
    absl::StatusOr<std::vector<std::string>> proof =
        merkle::ConsistencyProof(nodes_, old_size, tree_.size());
    EXPECT_TRUE(proof.ok()) << proof.status();
    return proof.ok() ? *proof : std::vector<std::string>();
  }

  // An add-checkpoint request for the current checkpoint from `old_size`.
  AddCheckpointRequest Request(uint64_t old_size) const {
    return AddCheckpointRequest{old_size, Proof(old_size), Checkpoint()};
  }

 private:
  note::NoteSigner signer_;
  merkle::CompactTree tree_;
  merkle::testing::MemoryNodeSource nodes_;
};

}  // namespace trialog::witness::testing

#endif  // TRIALOG_TESTS_WITNESS_TEST_LEDGER_H_
