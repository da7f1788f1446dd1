// Fuzzes RFC 6962 / RFC 9162 proof verification with attacker-chosen
// sizes, indexes, hashes and proof lengths. Input layout (big-endian):
//   u64 a | u64 b | 32-byte leaf or old root | 32-byte root | proof hashes
// (a trailing partial hash is passed as a short element, which must be
// refused). a and b are used as (index, size) for inclusion and as
// (old_size, new_size) for consistency.
//
// Invariants: VerifyInclusion accepts exactly when RootFromInclusionProof
// succeeds and yields the root given; every refusal is INVALID_ARGUMENT or
// FAILED_PRECONDITION, never another code.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/merkle/merkle.h"
#include "core/util/bytes.h"

namespace {

void CheckCode(const absl::Status& s) {
  if (s.ok()) return;
  if (s.code() != absl::StatusCode::kInvalidArgument &&
      s.code() != absl::StatusCode::kFailedPrecondition) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 16 + 64) return 0;
  const absl::string_view in(reinterpret_cast<const char*>(data), size);
  const uint64_t a = trialog::DecodeBigEndian64(in.substr(0, 8));
  const uint64_t b = trialog::DecodeBigEndian64(in.substr(8, 8));
  const std::string first(in.substr(16, 32));
  const std::string root(in.substr(48, 32));
  std::vector<std::string> proof;
  for (size_t at = 80; at < size && proof.size() < 80; at += 32) {
    proof.emplace_back(in.substr(at, 32));
  }

  absl::Status inclusion = trialog::merkle::VerifyInclusion(a, b, first, proof, root);
  CheckCode(inclusion);
  absl::StatusOr<std::string> implied = trialog::merkle::RootFromInclusionProof(a, b, first, proof);
  CheckCode(implied.status());
  if (inclusion.ok() != (implied.ok() && *implied == root)) std::abort();

  CheckCode(trialog::merkle::VerifyConsistency(a, b, proof, first, root));
  (void)trialog::merkle::InclusionRanges(a, b);
  (void)trialog::merkle::ConsistencyRanges(a, b);
  return 0;
}
