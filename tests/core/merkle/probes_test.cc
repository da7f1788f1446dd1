// transparency-dev/merkle's verifier probes (testdata/{inclusion,consistency}):
// 196 JSON files, most of them negative (wantErr). Every file is run; the
// counts are asserted so a missing directory fails the test.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/merkle/merkle.h"
#include "gtest/gtest.h"
#include "tests/core/merkle/test_util.h"

namespace trialog::merkle {
namespace {

using testing::Base64List;
using testing::Unbase64;

namespace fs = std::filesystem;

// Probes on which trialog deliberately differs from transparency-dev/merkle,
// with the outcome trialog gives instead.
struct Deviation {
  const char* path;  // relative to transparency-dev-merkle-testdata/
  absl::StatusCode code;
  const char* why;
};
constexpr Deviation kDeviations[] = {
    {"consistency/additional/sizes-are-equal-one-and-proof-is-empty.json",
     absl::StatusCode::kInvalidArgument,
     "its two roots are the same 12 bytes (\"don't care 2\"); transparency-dev only compares "
     "the roots when the sizes are equal, trialog rejects every root that is not 32 bytes"},
};

const Deviation* FindDeviation(const std::string& relative) {
  for (const Deviation& d : kDeviations) {
    if (relative == d.path) return &d;
  }
  return nullptr;
}

struct Probe {
  std::string relative;
  nlohmann::json doc;
};

std::vector<Probe> LoadProbes(const std::string& kind) {
  const fs::path root = testing::VectorPath("transparency-dev-merkle-testdata");
  std::vector<Probe> probes;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root / kind, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (!it->is_regular_file() || it->path().extension() != ".json") continue;
    std::ifstream in(it->path());
    Probe p;
    p.relative = fs::relative(it->path(), root).string();
    p.doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(p.doc.is_discarded()) << p.relative;
    probes.push_back(std::move(p));
  }
  EXPECT_FALSE(ec) << ec.message();
  std::sort(probes.begin(), probes.end(),
            [](const Probe& a, const Probe& b) { return a.relative < b.relative; });
  return probes;
}

// Checks `status` against the probe's wantErr (or a listed deviation).
// Returns whether the probe was a listed deviation.
bool CheckOutcome(const Probe& p, const absl::Status& status, int& positives) {
  const bool want_err = p.doc.at("wantErr").get<bool>();
  const std::string desc = p.doc.at("desc").get<std::string>();
  if (const Deviation* d = FindDeviation(p.relative)) {
    EXPECT_EQ(status.code(), d->code) << p.relative << " (" << d->why << "): " << status;
    return true;
  }
  if (want_err) {
    EXPECT_FALSE(status.ok()) << p.relative << " (" << desc << "): accepted";
    // Only the two documented verifier codes, never a crash or INTERNAL.
    EXPECT_TRUE(status.code() == absl::StatusCode::kInvalidArgument ||
                status.code() == absl::StatusCode::kFailedPrecondition)
        << p.relative << ": " << status;
  } else {
    EXPECT_TRUE(status.ok()) << p.relative << " (" << desc << "): " << status;
    ++positives;
  }
  return false;
}

TEST(TransparencyDevProbes, Inclusion) {
  const std::vector<Probe> probes = LoadProbes("inclusion");
  int positives = 0;
  int negatives = 0;
  int huge_index = 0;
  int short_hashes = 0;
  for (const Probe& p : probes) {
    SCOPED_TRACE(p.relative);
    // leafIdx may be 2^64-1: read it as uint64 (nlohmann keeps it unsigned).
    ASSERT_TRUE(p.doc.at("leafIdx").is_number_unsigned());
    const uint64_t index = p.doc.at("leafIdx").get<uint64_t>();
    const uint64_t size = p.doc.at("treeSize").get<uint64_t>();
    const std::string root = Unbase64(p.doc.at("root"));
    const std::string leaf = Unbase64(p.doc.at("leafHash"));
    const std::vector<std::string> proof = Base64List(p.doc.at("proof"));
    if (index == std::numeric_limits<uint64_t>::max()) ++huge_index;
    if (root.size() != kHashSize || leaf.size() != kHashSize) ++short_hashes;
    for (const std::string& h : proof) short_hashes += h.size() != kHashSize;

    const absl::Status status = VerifyInclusion(index, size, leaf, proof, root);
    CheckOutcome(p, status, positives);
    if (p.doc.at("wantErr").get<bool>()) ++negatives;
    // RootFromInclusionProof must agree wherever it gets far enough.
    absl::StatusOr<std::string> implied = RootFromInclusionProof(index, size, leaf, proof);
    if (status.ok()) {
      ASSERT_TRUE(implied.ok());
      EXPECT_EQ(*implied, root);
    } else if (implied.ok()) {
      EXPECT_TRUE(*implied != root || root.size() != kHashSize);
    }
  }
  EXPECT_EQ(probes.size(), 98u);
  EXPECT_EQ(positives, 6);
  EXPECT_EQ(negatives, 92);
  EXPECT_EQ(huge_index, 2);
  EXPECT_GT(short_hashes, 0);
}

TEST(TransparencyDevProbes, Consistency) {
  const std::vector<Probe> probes = LoadProbes("consistency");
  int positives = 0;
  int negatives = 0;
  int deviations = 0;
  for (const Probe& p : probes) {
    SCOPED_TRACE(p.relative);
    const uint64_t size1 = p.doc.at("size1").get<uint64_t>();
    const uint64_t size2 = p.doc.at("size2").get<uint64_t>();
    const std::string root1 = Unbase64(p.doc.at("root1"));
    const std::string root2 = Unbase64(p.doc.at("root2"));
    const std::vector<std::string> proof = Base64List(p.doc.at("proof"));
    const absl::Status status = VerifyConsistency(size1, size2, proof, root1, root2);
    deviations += CheckOutcome(p, status, positives);
    if (p.doc.at("wantErr").get<bool>()) ++negatives;
  }
  EXPECT_EQ(probes.size(), 98u);
  EXPECT_EQ(positives, 5);   // + 1 positive probe that is a listed deviation
  EXPECT_EQ(negatives, 92);
  EXPECT_EQ(deviations, static_cast<int>(std::size(kDeviations)));
}

}  // namespace
}  // namespace trialog::merkle
