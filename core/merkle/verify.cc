// Verification of RFC 6962 inclusion and consistency proofs (RFC 9162
// §2.1.3.2 and §2.1.4.2), restated as index arithmetic: the proof length is
// fixed by the sizes, so it is checked before any hashing.
//
// An inclusion proof for leaf `index` in a tree of `size` leaves has two
// parts. The *inner* part holds one sibling per level below the point where
// the paths to `index` and to the last leaf `size - 1` meet: bit i of
// `index` says whether that sibling is on the left (1) or on the right (0).
// Above that point the path runs along the right border, where only levels
// at which `index` has a 1 bit have a (left) sibling: the *border* part.

#include <bit>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/merkle/merkle.h"
#include "core/util/bytes.h"

namespace trialog::merkle {
namespace {

// x >> s, defined for every s (C++ leaves s >= 64 undefined).
uint64_t ShiftRight(uint64_t x, int s) { return s >= 64 ? 0 : x >> s; }

// Lengths of the inner and border parts of the inclusion proof of `index`
// in a tree of `size` leaves. REQUIRES: index < size.
struct ProofShape {
  int inner;
  int border;
};
ProofShape InclusionShape(uint64_t index, uint64_t size) {
  const int inner = std::bit_width(index ^ (size - 1));
  return ProofShape{inner, std::popcount(ShiftRight(index, inner))};
}

absl::Status CheckHash(absl::string_view what, absl::string_view hash) {
  if (hash.size() == kHashSize) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, " has ", hash.size(), " bytes, want ", kHashSize));
}

absl::Status CheckProofHashes(const std::vector<std::string>& proof) {
  for (size_t i = 0; i < proof.size(); ++i) {
    if (proof[i].size() != kHashSize) {
      return absl::InvalidArgumentError(absl::StrCat(
          "proof element ", i, " has ", proof[i].size(), " bytes, want ", kHashSize));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckRootMatches(absl::string_view what, absl::string_view calculated,
                              absl::string_view given) {
  if (calculated == given) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("calculated ", what, " ",
                                                    HexEncode(calculated),
                                                    " does not match the given one ",
                                                    HexEncode(given)));
}

}  // namespace

absl::StatusOr<std::string> RootFromInclusionProof(uint64_t index, uint64_t size,
                                                   absl::string_view leaf_hash,
                                                   const std::vector<std::string>& proof) {
  if (index >= size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inclusion proof: leaf index ", index, " is not below tree size ", size));
  }
  if (absl::Status s = CheckHash("leaf hash", leaf_hash); !s.ok()) return s;
  if (absl::Status s = CheckProofHashes(proof); !s.ok()) return s;
  const ProofShape shape = InclusionShape(index, size);
  const size_t want = static_cast<size_t>(shape.inner + shape.border);
  if (proof.size() != want) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inclusion proof has ", proof.size(), " hashes, want ", want, " for leaf ", index,
        " in a tree of size ", size));
  }
  std::string acc(leaf_hash);
  for (int i = 0; i < shape.inner; ++i) {
    if ((index >> i) & 1) {
      HashChildrenTo(proof[i], acc, acc.data());
    } else {
      HashChildrenTo(acc, proof[i], acc.data());
    }
  }
  for (size_t i = static_cast<size_t>(shape.inner); i < want; ++i) {
    HashChildrenTo(proof[i], acc, acc.data());
  }
  return acc;
}

absl::Status VerifyInclusion(uint64_t index, uint64_t size, absl::string_view leaf_hash,
                             const std::vector<std::string>& proof, absl::string_view root) {
  if (index >= size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inclusion proof: leaf index ", index, " is not below tree size ", size));
  }
  if (absl::Status s = CheckHash("root", root); !s.ok()) return s;
  absl::StatusOr<std::string> calculated = RootFromInclusionProof(index, size, leaf_hash, proof);
  if (!calculated.ok()) return calculated.status();
  return CheckRootMatches("root", *calculated, root);
}

absl::Status VerifyConsistency(uint64_t old_size, uint64_t new_size,
                               const std::vector<std::string>& proof,
                               absl::string_view old_root, absl::string_view new_root) {
  if (old_size == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "consistency proof from size 0 to ", new_size,
        " is refused: every tree extends the empty tree"));
  }
  if (old_size > new_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "consistency proof: old size ", old_size, " exceeds new size ", new_size));
  }
  if (absl::Status s = CheckHash("old root", old_root); !s.ok()) return s;
  if (absl::Status s = CheckHash("new root", new_root); !s.ok()) return s;
  if (absl::Status s = CheckProofHashes(proof); !s.ok()) return s;

  if (old_size == new_size) {
    if (!proof.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "consistency proof between equal sizes ", old_size, " must be empty, has ",
          proof.size(), " hashes"));
    }
    if (old_root == new_root) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(
        "sizes are equal (", old_size, ") but the old root ", HexEncode(old_root),
        " does not match the new root ", HexEncode(new_root)));
  }

  // 0 < old_size < new_size. The old tree's last perfect node, over
  // [old_size - 2^shift, old_size), is a node of both trees. The proof is
  // that node's hash (omitted when it is the whole old tree, whose root the
  // verifier holds) followed by the inclusion proof of that node in the new
  // tree, i.e. the inclusion proof of leaf old_size - 1 from level `shift` up.
  const uint64_t last = old_size - 1;
  const int shift = std::countr_zero(old_size);
  const ProofShape shape = InclusionShape(last, new_size);
  // shape.inner > shift: last's low `shift` bits are all ones, so it can only
  // differ from new_size - 1 > last at bit `shift` or above.
  const int inner = shape.inner - shift;
  const bool old_is_perfect = (old_size >> shift) == 1;
  const size_t start = old_is_perfect ? 0 : 1;
  const size_t want = start + static_cast<size_t>(inner + shape.border);
  if (proof.size() != want) {
    return absl::InvalidArgumentError(absl::StrCat(
        "consistency proof has ", proof.size(), " hashes, want ", want, " from size ",
        old_size, " to ", new_size));
  }

  const uint64_t mask = last >> shift;
  std::string old_acc(old_is_perfect ? old_root : absl::string_view(proof[0]));
  std::string new_acc = old_acc;
  for (int i = 0; i < inner; ++i) {
    const std::string& sibling = proof[start + static_cast<size_t>(i)];
    if ((mask >> i) & 1) {
      // A left sibling: inside the old tree too.
      HashChildrenTo(sibling, old_acc, old_acc.data());
      HashChildrenTo(sibling, new_acc, new_acc.data());
    } else {
      // A right sibling: only in the new tree.
      HashChildrenTo(new_acc, sibling, new_acc.data());
    }
  }
  for (size_t i = start + static_cast<size_t>(inner); i < want; ++i) {
    HashChildrenTo(proof[i], old_acc, old_acc.data());
    HashChildrenTo(proof[i], new_acc, new_acc.data());
  }
  if (absl::Status s = CheckRootMatches("old root", old_acc, old_root); !s.ok()) return s;
  return CheckRootMatches("new root", new_acc, new_root);
}

}  // namespace trialog::merkle
