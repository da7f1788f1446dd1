// merkle_bench: Google Benchmark for core/merkle (not a test).
//   CompactTree::Append rate, with and without recording every perfect node;
//   inclusion / consistency proof generation and verification latency in a
//   tree of 1M (2^20) leaves held by an in-memory NodeSource.
// Run: build/tests/core/merkle/merkle_bench [--benchmark_filter=...]

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/merkle/merkle.h"
#include "tests/core/merkle/memory_node_source.h"

namespace trialog::merkle {
namespace {

using testing::MemoryNodeSource;

constexpr uint64_t kTreeSize = 1 << 20;

std::string LeafHash(uint64_t i) {
  return HashLeaf(std::string(reinterpret_cast<const char*>(&i), sizeof(i)));
}

// The 1M-leaf tree, built once (about 2M SHA-256 calls).
struct BigTree {
  MemoryNodeSource nodes;
  std::vector<std::string> leaves;
  std::string root;
  BigTree() {
    CompactTree tree;
    leaves.reserve(kTreeSize);
    for (uint64_t i = 0; i < kTreeSize; ++i) {
      leaves.push_back(LeafHash(i));
      tree.Append(leaves.back(), nodes.Recorder());
    }
    root = tree.Root();
  }
};
const BigTree& Big() {
  static const BigTree* tree = new BigTree();
  return *tree;
}

void BM_HashLeaf200B(benchmark::State& state) {
  const std::string leaf(200, 'x');
  for (auto _ : state) benchmark::DoNotOptimize(HashLeaf(leaf));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HashLeaf200B);

void BM_HashChildren(benchmark::State& state) {
  const std::string a = LeafHash(1), b = LeafHash(2);
  for (auto _ : state) benchmark::DoNotOptimize(HashChildren(a, b));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HashChildren);

void BM_HashChildrenTo(benchmark::State& state) {
  const std::string a = LeafHash(1);
  std::string acc = LeafHash(2);
  for (auto _ : state) {
    HashChildrenTo(a, acc, acc.data());
    benchmark::DoNotOptimize(acc.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HashChildrenTo);

// Appends of pre-hashed leaves: amortised ~1 HashChildren per append.
void BM_CompactTreeAppend(benchmark::State& state) {
  const std::string leaf = LeafHash(7);
  CompactTree tree;
  for (auto _ : state) tree.Append(leaf);
  benchmark::DoNotOptimize(tree.size());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CompactTreeAppend);

// The same, with every completed node copied out (as storage persists it).
void BM_CompactTreeAppendRecordingNodes(benchmark::State& state) {
  const std::string leaf = LeafHash(7);
  CompactTree tree;
  MemoryNodeSource nodes;
  for (auto _ : state) tree.Append(leaf, nodes.Recorder());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CompactTreeAppendRecordingNodes);

// Hash a leaf and append it: the full per-entry Merkle cost (200-byte entry).
void BM_HashLeafAndAppend200B(benchmark::State& state) {
  std::string entry(200, 'e');
  CompactTree tree;
  uint64_t i = 0;
  for (auto _ : state) {
    entry[0] = static_cast<char>(i++);
    tree.Append(HashLeaf(entry));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HashLeafAndAppend200B);

void BM_RootAt1M(benchmark::State& state) {
  const BigTree& big = Big();
  std::mt19937_64 rng(1);
  for (auto _ : state) {
    const uint64_t size = kTreeSize - (rng() % 1024);
    benchmark::DoNotOptimize(RootAt(big.nodes, size));
  }
}
BENCHMARK(BM_RootAt1M)->Unit(benchmark::kMicrosecond);

void BM_InclusionProofGenerate1M(benchmark::State& state) {
  const BigTree& big = Big();
  std::mt19937_64 rng(2);
  for (auto _ : state) {
    benchmark::DoNotOptimize(InclusionProof(big.nodes, rng() % kTreeSize, kTreeSize));
  }
}
BENCHMARK(BM_InclusionProofGenerate1M)->Unit(benchmark::kMicrosecond);

// A size of 2^20 - 1 puts a non-perfect right border into most proofs.
void BM_InclusionProofGenerate1MRagged(benchmark::State& state) {
  const BigTree& big = Big();
  std::mt19937_64 rng(3);
  for (auto _ : state) {
    benchmark::DoNotOptimize(InclusionProof(big.nodes, rng() % (kTreeSize - 1), kTreeSize - 1));
  }
}
BENCHMARK(BM_InclusionProofGenerate1MRagged)->Unit(benchmark::kMicrosecond);

void BM_InclusionProofVerify1M(benchmark::State& state) {
  const BigTree& big = Big();
  std::mt19937_64 rng(4);
  struct Case {
    uint64_t index;
    std::vector<std::string> proof;
  };
  std::vector<Case> cases;
  for (int i = 0; i < 256; ++i) {
    const uint64_t index = rng() % kTreeSize;
    cases.push_back(Case{index, *InclusionProof(big.nodes, index, kTreeSize)});
  }
  size_t i = 0;
  for (auto _ : state) {
    const Case& c = cases[i++ % cases.size()];
    absl::Status s = VerifyInclusion(c.index, kTreeSize, big.leaves[c.index], c.proof, big.root);
    if (!s.ok()) state.SkipWithError("verification failed");
  }
}
BENCHMARK(BM_InclusionProofVerify1M)->Unit(benchmark::kMicrosecond);

void BM_InclusionProofGenerateAndVerify1M(benchmark::State& state) {
  const BigTree& big = Big();
  std::mt19937_64 rng(5);
  for (auto _ : state) {
    const uint64_t index = rng() % kTreeSize;
    absl::StatusOr<std::vector<std::string>> proof = InclusionProof(big.nodes, index, kTreeSize);
    absl::Status s = VerifyInclusion(index, kTreeSize, big.leaves[index], *proof, big.root);
    if (!s.ok()) state.SkipWithError("verification failed");
  }
}
BENCHMARK(BM_InclusionProofGenerateAndVerify1M)->Unit(benchmark::kMicrosecond);

void BM_ConsistencyProofGenerate1M(benchmark::State& state) {
  const BigTree& big = Big();
  std::mt19937_64 rng(6);
  for (auto _ : state) {
    benchmark::DoNotOptimize(ConsistencyProof(big.nodes, 1 + rng() % (kTreeSize - 1), kTreeSize));
  }
}
BENCHMARK(BM_ConsistencyProofGenerate1M)->Unit(benchmark::kMicrosecond);

void BM_ConsistencyProofGenerateAndVerify1M(benchmark::State& state) {
  const BigTree& big = Big();
  std::mt19937_64 rng(7);
  struct Case {
    uint64_t old_size;
    std::string old_root;
  };
  std::vector<Case> cases;
  for (int i = 0; i < 256; ++i) {
    const uint64_t old_size = 1 + rng() % (kTreeSize - 1);
    cases.push_back(Case{old_size, *RootAt(big.nodes, old_size)});
  }
  size_t i = 0;
  for (auto _ : state) {
    const Case& c = cases[i++ % cases.size()];
    absl::StatusOr<std::vector<std::string>> proof =
        ConsistencyProof(big.nodes, c.old_size, kTreeSize);
    absl::Status s = VerifyConsistency(c.old_size, kTreeSize, *proof, c.old_root, big.root);
    if (!s.ok()) state.SkipWithError("verification failed");
  }
}
BENCHMARK(BM_ConsistencyProofGenerateAndVerify1M)->Unit(benchmark::kMicrosecond);

void BM_ConsistencyProofVerify1M(benchmark::State& state) {
  const BigTree& big = Big();
  std::mt19937_64 rng(8);
  struct Case {
    uint64_t old_size;
    std::string old_root;
    std::vector<std::string> proof;
  };
  std::vector<Case> cases;
  for (int i = 0; i < 256; ++i) {
    const uint64_t old_size = 1 + rng() % (kTreeSize - 1);
    cases.push_back(Case{old_size, *RootAt(big.nodes, old_size),
                         *ConsistencyProof(big.nodes, old_size, kTreeSize)});
  }
  size_t i = 0;
  for (auto _ : state) {
    const Case& c = cases[i++ % cases.size()];
    absl::Status s = VerifyConsistency(c.old_size, kTreeSize, c.proof, c.old_root, big.root);
    if (!s.ok()) state.SkipWithError("verification failed");
  }
}
BENCHMARK(BM_ConsistencyProofVerify1M)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace trialog::merkle

BENCHMARK_MAIN();
