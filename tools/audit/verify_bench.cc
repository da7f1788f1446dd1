// verify_bench: how fast an auditor's full verification runs against the
// machine's own ceiling, measured in the same run (issue 5, Performance).
//
// Generates a ledger of N signed entries in memory (genesis, 8 registered
// principals, then notes spread over 1,000 subject streams, each envelope
// signed by its principal as a client would, entries chained and
// serialised as the server does), then measures, each `--runs` times:
//   sodium   raw libsodium Ed25519 verification of exactly those N
//            (message, signature, key) triples on T threads (the ceiling);
//   full     ledger::VerifyEntries: parse, chain links, stream versions,
//            event ids, registry as of each entry, every signature on T
//            threads, the Merkle tree (no domain rules: the generic ledger);
//   chain    the same without signatures (chain, registry, Merkle);
//   scan     ledger::ScanChain, the chain and Merkle checks alone (what
//            `trialog verify --chain-only` runs): index and chain link read
//            from the bytes, leaf hashes and subtree roots on T threads,
//            the root folded in order; also on 1 thread (scan1).
// Every run's root is compared with the ChainVerifier's (exit 1 if not).
// Prints the medians, full/sodium and the targets (>= 85%, >= 500k/s).
//
// Usage: verify_bench [--entries N] [--threads T] [--runs R]
//                     [--only sodium|full|chain|scan|scan1|parse]

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/crypto/crypto.h"
#include "core/ledger/chain_verifier.h"
#include "core/ledger/entry.h"
#include "core/ledger/envelope_signer.h"
#include "core/ledger/parallel_verifier.h"
#include "core/merkle/merkle.h"
#include "trialog/v1/ledger.pb.h"

namespace trialog {
namespace {

struct Principal {
  std::string id;
  v1::Role role;
  crypto::SigningKey key;
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// CPU time of the whole process (every thread), user + system, in seconds.
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Items per CPU-second of the last measurement: the work per unit of CPU
// actually granted, which other processes' load changes much less than
// the wall-clock rate (it still counts cache and frequency effects).
double g_cpu_rate = 0;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

v1::Envelope Base(const Principal& p, const std::string& stream, uint64_t n) {
  v1::Envelope e;
  e.set_trial_id("bench-trial");
  e.set_stream_id(stream);
  std::string id(16, '\0');
  for (int b = 0; b < 8; ++b) id[b] = static_cast<char>(n >> (8 * b));
  id[8] = 'b';
  e.set_event_id(id);
  e.mutable_observed_at()->set_unix_micros(1767225600000000 + static_cast<int64_t>(n) * 1000);
  e.mutable_observed_at()->set_utc_offset_minutes(180);
  e.mutable_actor()->set_principal_id(p.id);
  e.mutable_actor()->set_printed_name(absl::StrCat("Dr ", p.id));
  e.mutable_actor()->set_role(p.role);
  e.mutable_actor()->set_site_id("RU-01");
  e.set_client_unix_micros(1767225600000001 + static_cast<int64_t>(n) * 1000);
  return e;
}

void FillRegistered(const Principal& p, v1::PrincipalRegistered* r) {
  r->set_principal_id(p.id);
  r->set_printed_name(absl::StrCat("Dr ", p.id));
  r->set_role(p.role);
  r->set_site_id("RU-01");
  r->set_public_key(p.key.public_key());
}

// The envelopes to append, in order (signed on `threads` threads).
std::vector<std::string> MakeEntries(uint64_t n, int threads) {
  std::vector<Principal> people;
  people.push_back({"admin-1", v1::ROLE_SPONSOR_ADMIN, crypto::SigningKey::Generate()});
  const v1::Role roles[] = {v1::ROLE_INVESTIGATOR, v1::ROLE_STUDY_COORDINATOR, v1::ROLE_PHARMACIST,
                            v1::ROLE_DATA_MANAGER};
  for (int i = 0; i < 8; ++i) {
    people.push_back({absl::StrCat("person-", i), roles[i % 4], crypto::SigningKey::Generate()});
  }
  std::vector<v1::Envelope> envelopes(n);
  std::vector<const Principal*> signer(n);
  for (uint64_t i = 0; i < n; ++i) {
    if (i == 0) {
      v1::Envelope e = Base(people[0], "principals", i);
      v1::Genesis* g = e.mutable_event()->mutable_genesis();
      g->set_ledger_origin("bench.example/bench-trial");
      g->set_trial_title("verify bench");
      FillRegistered(people[0], g->mutable_first_admin());
      g->mutable_protocol()->set_protocol_id("BENCH-001");
      g->mutable_protocol()->set_version(1);
      envelopes[i] = e;
      signer[i] = &people[0];
    } else if (i <= 8 && i < n) {
      v1::Envelope e = Base(people[0], "principals", i);
      FillRegistered(people[i], e.mutable_event()->mutable_principal_registered());
      envelopes[i] = e;
      signer[i] = &people[0];
    } else {
      const Principal& p = people[1 + i % 8];
      v1::Envelope e = Base(p, absl::StrCat("subject/RU-01-", 1000 + i % 1000), i);
      e.mutable_event()->mutable_trial()->mutable_note()->set_text(
          absl::StrCat("visit note ", i, ": weight and vital signs recorded, no adverse event"));
      envelopes[i] = e;
      signer[i] = &p;
    }
  }
  std::vector<v1::SignedEnvelope> signed_envs(n);
  std::atomic<uint64_t> next{0};
  auto work = [&] {
    for (uint64_t i; (i = next.fetch_add(1)) < n;) signed_envs[i] = ledger::SignEnvelope(envelopes[i], signer[i]->key);
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(work);
  for (std::thread& t : pool) t.join();

  std::vector<std::string> entries(n);
  std::string prev = ledger::ZeroHash();
  std::map<std::string, uint64_t> stream_version;
  for (uint64_t i = 0; i < n; ++i) {
    v1::Entry entry;
    entry.set_index(i);
    entry.set_prev_leaf_hash(prev);
    entry.set_recorded_at_unix_micros(1767225600000000 + static_cast<int64_t>(i) * 1000);
    entry.set_stream_version(++stream_version[envelopes[i].stream_id()]);
    *entry.mutable_signed_envelope() = std::move(signed_envs[i]);
    entries[i] = ledger::SerializeEntry(entry);
    prev = merkle::HashLeaf(entries[i]);
  }
  return entries;
}

ledger::EntryReader ReaderOver(const std::vector<std::string>& entries) {
  return [&entries](uint64_t from, const std::function<bool(absl::string_view)>& sink) {
    for (uint64_t i = from; i < entries.size(); ++i) {
      if (!sink(entries[i])) break;
    }
    return absl::OkStatus();
  };
}

struct Triple {
  std::string message, signature, key;
};

double SodiumRate(const std::vector<Triple>& triples, int threads) {
  std::atomic<uint64_t> bad{0};
  const double cpu0 = CpuSeconds();
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  const size_t per = (triples.size() + threads - 1) / threads;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      const size_t end = std::min(triples.size(), (t + 1) * per);
      uint64_t b = 0;
      for (size_t i = t * per; i < end; ++i) b += !crypto::Verify(triples[i].key, triples[i].message, triples[i].signature);
      bad += b;
    });
  }
  for (std::thread& t : pool) t.join();
  const double s = Seconds(start);
  if (bad != 0) {
    std::fprintf(stderr, "BUG: %llu signatures did not verify\n", static_cast<unsigned long long>(bad.load()));
    std::exit(1);
  }
  g_cpu_rate = triples.size() / (CpuSeconds() - cpu0);
  return triples.size() / s;
}

double VerifyRate(const std::vector<std::string>& entries, int threads, bool signatures) {
  ledger::ChainVerifier verifier({}, /*check_signatures=*/false);
  ledger::ParallelVerifyOptions options;
  options.threads = threads;
  options.check_signatures = signatures;
  const double cpu0 = CpuSeconds();
  auto start = std::chrono::steady_clock::now();
  ledger::ParallelVerifyResult r = ledger::VerifyEntries(ReaderOver(entries), verifier, options);
  const double s = Seconds(start);
  if (!r.status.ok() || verifier.size() != entries.size() ||
      (signatures && r.signatures_checked != entries.size())) {
    std::fprintf(stderr, "BUG: verification failed: %s\n", std::string(r.status.message()).c_str());
    std::exit(1);
  }
  g_cpu_rate = entries.size() / (CpuSeconds() - cpu0);
  return entries.size() / s;
}

// ScanChain over the entries on `threads` threads; its root must equal
// `expected_root` (the ChainVerifier's, computed once up front).
double ScanRate(const std::vector<std::string>& entries, int threads, const std::string& expected_root) {
  ledger::ChainScanOptions options;
  options.threads = threads;
  const double cpu0 = CpuSeconds();
  auto start = std::chrono::steady_clock::now();
  ledger::ChainScanResult r = ledger::ScanChain(ReaderOver(entries), options);
  const double s = Seconds(start);
  if (!r.status.ok() || r.size != entries.size() || r.root != expected_root) {
    std::fprintf(stderr, "BUG: chain scan failed or root differs: %s\n", std::string(r.status.message()).c_str());
    std::exit(1);
  }
  g_cpu_rate = entries.size() / (CpuSeconds() - cpu0);
  return entries.size() / s;
}

int Main(int argc, char** argv) {
  uint64_t n = 1000000;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int runs = 3;
  std::string only;  // "", "sodium", "full", "chain", "scan", "scan1", "parse": one measurement (for profiling)
  constexpr char kUsage[] =
      "usage: verify_bench [--entries N] [--threads T] [--runs R] "
      "[--only sodium|full|chain|scan|scan1|parse]\n"
      "  builds a signed ledger of N entries (default 1000000) in memory, then measures, R times\n"
      "  (default 3), the libsodium verify rate on T threads (default: every core), full\n"
      "  verification, and the chain + Merkle checks alone (ScanChain); prints entries/s and ratios\n";
  for (int i = 1; i < argc; i += 2) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n%s", argv[i], kUsage);
      return 64;
    }
    if (!std::strcmp(argv[i], "--entries")) n = std::strtoull(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--only")) only = argv[i + 1];
    else {
      std::fputs(kUsage, stderr);
      return 64;
    }
  }
  if (n < 16 || threads < 1 || runs < 1) {
    std::fprintf(stderr, "need --entries >= 16, --threads >= 1, --runs >= 1\n");
    return 64;
  }
  std::fprintf(stderr, "generating %llu signed entries on %d threads...\n", static_cast<unsigned long long>(n),
               threads);
  auto gen = std::chrono::steady_clock::now();
  std::vector<std::string> entries = MakeEntries(n, threads);
  size_t bytes = 0;
  for (const std::string& e : entries) bytes += e.size();
  std::fprintf(stderr, "generated in %.1f s, mean entry %.0f bytes\n", Seconds(gen),
               static_cast<double>(bytes) / n);

  // The exact triples the verifier will check, for the raw ceiling, and the
  // root the sequential ChainVerifier computes (the scans must match it).
  std::vector<Triple> triples;
  triples.reserve(n);
  std::string expected_root;
  {
    ledger::ChainVerifier keys({}, false);
    for (const std::string& b : entries) {
      ledger::ParsedEntry e = *ledger::ParseEntry(b);
      triples.push_back({ledger::EnvelopeSigningMessage(e.entry.signed_envelope().envelope()),
                         e.entry.signed_envelope().signature(), *keys.SignerKey(e)});
      if (!keys.AddParsed(e).ok()) return 1;
    }
    expected_root = keys.root();
  }

  std::vector<double> sodium, full, chain, scan, scan1;
  std::vector<double> sodium_cpu, full_cpu, chain_cpu, scan_cpu, scan1_cpu;  // per CPU-second
  if (!only.empty()) {
    double rate = 0;
    for (int r = 0; r < runs; ++r) {
      if (only == "sodium") rate = SodiumRate(triples, threads);
      if (only == "full") rate = VerifyRate(entries, threads, true);
      if (only == "chain") rate = VerifyRate(entries, threads, false);
      if (only == "scan") rate = ScanRate(entries, threads, expected_root);
      if (only == "scan1") rate = ScanRate(entries, 1, expected_root);
      if (only == "parse") {
        auto start = std::chrono::steady_clock::now();
        size_t ok = 0;
        for (const std::string& e : entries) ok += ledger::ParseEntry(e).ok();
        rate = ok / Seconds(start);
      }
      std::printf("%s: %.0f /s (%.0f per CPU-second)\n", only.c_str(), rate, g_cpu_rate);
    }
    return 0;
  }
  for (int r = 0; r < runs; ++r) {
    sodium.push_back(SodiumRate(triples, threads));
    sodium_cpu.push_back(g_cpu_rate);
    full.push_back(VerifyRate(entries, threads, /*signatures=*/true));
    full_cpu.push_back(g_cpu_rate);
    chain.push_back(VerifyRate(entries, threads, /*signatures=*/false));
    chain_cpu.push_back(g_cpu_rate);
    scan.push_back(ScanRate(entries, threads, expected_root));
    scan_cpu.push_back(g_cpu_rate);
    scan1.push_back(ScanRate(entries, 1, expected_root));
    scan1_cpu.push_back(g_cpu_rate);
    std::fprintf(stderr, "run %d: sodium %.0f/s  full %.0f/s (%.1f%%)  chain %.0f/s  scan %.0f/s  scan1 %.0f/s\n",
                 r + 1, sodium.back(), full.back(), 100 * full.back() / sodium.back(), chain.back(), scan.back(),
                 scan1.back());
  }
  std::vector<double> ratio;
  for (int r = 0; r < runs; ++r) ratio.push_back(full[r] / sodium[r]);
  const double s = Median(sodium), f = Median(full), c = Median(chain), sc = Median(scan), sc1 = Median(scan1);
  std::printf("entries %llu, threads %d, runs %d (medians)\n", static_cast<unsigned long long>(n), threads, runs);
  std::printf("libsodium Ed25519 verify, %d threads:     %10.0f /s\n", threads, s);
  std::printf("full verification (signatures):         %10.0f entries/s  = %.1f%% of libsodium (median of per-run "
              "ratios %.1f%%; target >= 85%%)\n",
              f, 100 * f / s, 100 * Median(ratio));
  std::printf("chain + registry + Merkle (no sigs):     %10.0f entries/s  (protobuf parse, registry, 1 thread)\n", c);
  std::printf("chain + Merkle (ScanChain), %d threads:   %10.0f entries/s  (target >= 500000)\n", threads, sc);
  std::printf("chain + Merkle (ScanChain), 1 thread:    %10.0f entries/s\n", sc1);
  std::printf("per CPU-second (medians; load-independent-ish): libsodium verify %.0f, full %.0f, chain+registry %.0f,"
              " ScanChain %d threads %.0f, ScanChain 1 thread %.0f\n",
              Median(sodium_cpu), Median(full_cpu), Median(chain_cpu), threads, Median(scan_cpu), Median(scan1_cpu));
  return 0;
}

}  // namespace
}  // namespace trialog

int main(int argc, char** argv) { return trialog::Main(argc, argv); }
