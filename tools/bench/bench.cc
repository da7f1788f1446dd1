// trialog-bench: the issue-7 benchmark. Measures, in one run and on this
// machine, the ceilings (Ed25519 verifies/s on all cores via libsodium; the
// synced RocksDB WriteBatch rate), durable signed appends/s through a real
// trialogd on loopback (unary, AppendBatch and AppendStream with N clients,
// plus an open-loop run at a fixed offered rate), the PostgreSQL
// hash-chain baseline (pgbench against a server the caller started), and,
// at a configurable ledger size, replay, full verification, proof latency,
// restart-to-serving time and RSS. Prints one table (markdown) with every
// figure as a ratio to the baselines of the same run, or JSON (--json).
//
// scripts/bench.sh builds everything, starts PostgreSQL and runs this.
// Every append here is durable: trialogd runs with --sync (its default),
// so no answer leaves before the group commit's fsync.

#include <csignal>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/bulk_import.h"
#include "client/client.h"
#include "client/metrics_scrape.h"
#include "core/crypto/crypto.h"
#include "core/crypto/key_file.h"
#include "core/ledger/registry.h"
#include "core/merkle/merkle.h"
#include "core/note/keys.h"
#include "core/trial/state_machine.h"
#include "core/util/mutex_debug.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "nlohmann/json.hpp"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "storage/ledger.h"
#include "storage/node_store.h"
#include "storage/schema.h"
#include "tools/bench/target_chart.h"
#include "tools/process/child_process.h"
#include "trialog/v1/bulk_import.grpc.pb.h"
#include "trialog/v1/service.grpc.pb.h"

namespace trialog::bench {
namespace {

using process::CpuTime;
using process::Daemon;
using process::RssBytes;
using process::Run;
using process::RunOutput;

// A trialogd child's ready file and log, both in `work`.
Daemon::Options DaemonFiles(const std::string& work, absl::Duration timeout) {
  Daemon::Options o;
  o.ready_file = work + "/ready";
  o.log_file = work + "/trialogd.log";
  o.timeout = timeout;
  return o;
}

constexpr char kLedgerName[] = "bench.trialog";
constexpr int kPeople = 16;

struct Flags {
  std::string trialogd;
  std::string trialog;  // for `trialog verify` at scale; empty = skip
  std::string tmp = "/tmp";
  double seconds = 4;
  size_t max_events = 120000;  // pre-signed envelopes per append run (upper bound)
  std::vector<int> clients = {1, 8, 16};
  int batch = 64;
  double open_loop_rate = 2000;
  int open_loop_threads = 32;
  uint64_t scale = 0;  // ledger size for replay/verify/proofs/restart; 0 = skip
  std::string scale_dir;  // keep/reuse the scale ledger here; empty = a temp dir
  uint64_t scale_tail = 0;  // entries appended before the SIGKILL restart; 0 = scale/20
  bool scale_skip_full_replay = false;  // skip the reopen without a snapshot (minutes at 10M)
  bool scale_cold_proofs = false;  // also time proofs after dropping the page cache (root)
  double scale_settle_seconds = 5;  // wait after trialogd is ready before its proofs
  uint64_t scale_snapshot_every = 0;  // trialogd --snapshot_every_entries at scale; 0 = its default
  bool skip_grpc = false;
  bool skip_bulk = false;  // skip the batch-signed bulk import rows
  // PostgreSQL (started by the caller; skipped when pg_port == 0).
  std::string pgbench = "pgbench";
  std::string pg_host = "127.0.0.1";
  int pg_port = 0;
  std::string pg_db = "bench";
  std::string pg_user;
  std::string pg_script;  // insert_chain.sql
  double pg_seconds = 10;
  bool json = false;
  std::string json_out;
  std::string svg_out;
};

// One line of the table.
struct Row {
  std::string group;
  std::string name;
  double value = 0;
  std::string unit;
  std::optional<double> p50_ms, p95_ms, p99_ms;
  std::string versus;  // ratios to the baselines
  std::string target;
  std::optional<bool> met;
  // measured / target for "≥" targets, target / measured for "≤" ones
  // (>= 1 means met); the chart draws it (tools/bench/target_chart.h).
  std::optional<double> target_ratio;
  std::string detail;
  // Append rows: CPU microseconds per durable append of trialogd and of the
  // bench's clients, and appends per group commit (synced write).
  std::optional<double> server_cpu_us, client_cpu_us, appends_per_commit;
};

// The calling thread's reads so far (/proc/thread-self/io): read calls
// (syscr) and bytes its reads fetched from the storage device (read_bytes;
// page-cache hits not counted). Zeros when the file is unreadable.
struct ThreadIo {
  uint64_t read_calls = 0;
  uint64_t disk_bytes = 0;
};
ThreadIo ReadThreadIo() {
  ThreadIo io;
  std::ifstream in("/proc/thread-self/io");
  std::string name;
  uint64_t value = 0;
  while (in >> name >> value) {
    if (name == "syscr:") io.read_calls = value;
    if (name == "read_bytes:") io.disk_bytes = value;
  }
  return io;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

void SetLatencies(Row& row, const std::vector<double>& ms) {
  if (ms.empty()) return;
  row.p50_ms = Percentile(ms, 0.50);
  row.p95_ms = Percentile(ms, 0.95);
  row.p99_ms = Percentile(ms, 0.99);
}

void Log(const std::string& s) {
  std::cerr << "[" << absl::FormatTime("%H:%M:%S", absl::Now(), absl::UTCTimeZone()) << "] " << s
            << "\n";
}

std::string MakeTempDir(const std::string& base, const std::string& stem) {
  std::string tmpl = absl::StrCat(base, "/", stem, "-XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  return tmpl;
}

// ---------------------------------------------------------------- ceilings

// Ed25519 verifications per second with one thread per core, over
// pre-signed ~200-byte messages (libsodium via core/crypto).
double VerifyCeiling(double seconds, int threads) {
  const crypto::SigningKey key = crypto::SigningKey::Generate();
  const std::string pub = key.public_key();
  std::vector<std::pair<std::string, std::string>> msgs;
  for (int i = 0; i < 512; ++i) {
    std::string m = absl::StrCat("message ", i, ": ", std::string(190, 'x'));
    std::string sig = key.Sign(m);
    msgs.emplace_back(std::move(m), std::move(sig));
  }
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> total{0};
  std::atomic<int> bad{0};
  std::vector<std::thread> pool;
  const absl::Time start = absl::Now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      uint64_t n = 0;
      for (size_t i = static_cast<size_t>(t) * 7; !stop.load(std::memory_order_relaxed); ++i) {
        const auto& [m, s] = msgs[i % msgs.size()];
        if (!crypto::Verify(pub, m, s)) ++bad;
        ++n;
      }
      total += n;
    });
  }
  absl::SleepFor(absl::Seconds(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  if (bad.load() != 0) Log("WARNING: a good signature failed to verify");
  return static_cast<double>(total.load()) / elapsed;
}

// Records/s of synced WriteBatches of `batch` 400-byte records into a fresh
// store (the same RocksDB options as the ledger's entries column family).
double WriteBatchCeiling(const std::string& tmp, double seconds, int batch) {
  const std::string dir = MakeTempDir(tmp, "trialog-bench-raw");
  double rate = 0;
  {
    storage::DbOptions o;
    o.dir = dir + "/raw";
    absl::StatusOr<std::unique_ptr<storage::Db>> db = storage::Db::Open(o);
    if (!db.ok()) {
      Log(absl::StrCat("raw store: ", db.status().message()));
      std::exit(1);
    }
    std::mt19937_64 rng(42);
    std::string value(400, '\0');
    for (char& c : value) c = static_cast<char>(rng());
    uint64_t i = 0;
    const absl::Time start = absl::Now();
    const absl::Time deadline = start + absl::Seconds(seconds);
    while (absl::Now() < deadline) {
      rocksdb::WriteBatch w;
      for (int k = 0; k < batch; ++k, ++i) {
        value[i % value.size()] ^= 1;
        w.Put((*db)->handle(storage::Cf::kEntries), storage::EntryKey(i), value);
      }
      if (!(*db)->Write(&w, /*sync=*/true).ok()) std::exit(1);
    }
    rate = static_cast<double>(i) / absl::ToDoubleSeconds(absl::Now() - start);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return rate;
}

// ---------------------------------------------------------------- workload

struct Person {
  client::Signer signer;
};

std::vector<Person> MakePeople() {
  std::vector<Person> people;
  for (int i = 0; i < kPeople; ++i) {
    v1::Actor a;
    a.set_principal_id(absl::StrCat("coordinator-", i));
    a.set_printed_name(absl::StrCat("Coordinator ", i));
    a.set_role(v1::ROLE_STUDY_COORDINATOR);
    a.set_site_id("site-01");
    people.push_back({client::Signer(a, crypto::SigningKey::Generate())});
  }
  return people;
}

client::Signer MakeAdmin() {
  v1::Actor a;
  a.set_principal_id("admin-1");
  a.set_printed_name("Bench Admin");
  a.set_role(v1::ROLE_SPONSOR_ADMIN);
  return client::Signer(a, crypto::SigningKey::Generate());
}

v1::SignedEnvelope GenesisFor(const std::string& trial, const std::string& origin,
                              const client::Signer& admin) {
  v1::Envelope e;
  e.set_stream_id("principals");
  v1::Genesis* g = e.mutable_event()->mutable_genesis();
  g->set_ledger_origin(origin);
  g->set_trial_title("benchmark trial " + trial);
  v1::PrincipalRegistered* fa = g->mutable_first_admin();
  fa->set_principal_id(admin.actor().principal_id());
  fa->set_printed_name(admin.actor().printed_name());
  fa->set_role(admin.actor().role());
  fa->set_public_key(admin.public_key());
  return admin.Sign(trial, e);
}

v1::SignedEnvelope RegisterFor(const std::string& trial, const client::Signer& admin,
                               const Person& p) {
  v1::Envelope e;
  e.set_stream_id("principals");
  v1::PrincipalRegistered* r = e.mutable_event()->mutable_principal_registered();
  r->set_principal_id(p.signer.actor().principal_id());
  r->set_printed_name(p.signer.actor().printed_name());
  r->set_role(p.signer.actor().role());
  r->set_site_id(p.signer.actor().site_id());
  r->set_public_key(p.signer.public_key());
  return admin.Sign(trial, e);
}

// Envelopes [first, first + n) of the note workload (~200 bytes of text,
// 200 subject streams, signers round-robin), signed on every core.
std::vector<v1::SignedEnvelope> Presign(const std::string& trial, const std::vector<Person>& people,
                                        uint64_t first, size_t n) {
  std::vector<v1::SignedEnvelope> out(n);
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (size_t i = t; i < n; i += threads) {
        const uint64_t k = first + i;
        v1::Envelope e;
        e.set_stream_id(absl::StrCat("subject/RU-01-", 1000 + k % 200));
        e.mutable_event()->mutable_trial()->mutable_note()->set_text(absl::StrCat(
            "visit ", k, ": vitals recorded, BSA 1.12 m2, crizotinib 280 mg/m2 BID dispensed, "
            "no new adverse events; next assessment per RECIST 1.1 schedule in 8 weeks"));
        out[i] = people[k % people.size()].signer.Sign(trial, std::move(e));
      }
    });
  }
  for (auto& th : pool) th.join();
  return out;
}

// One GetCheckpoint on `stub`, so that its channel is connected (errors are
// the timed calls' business).
void ConnectStub(v1::LedgerService::Stub& stub, const std::string& trial) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::GetCheckpointRequest req;
  req.set_trial_id(trial);
  v1::GetCheckpointResponse resp;
  (void)stub.GetCheckpoint(&ctx, req, &resp);
}

std::unique_ptr<v1::LedgerService::Stub> NewStub(const std::string& target) {
  static std::atomic<int> counter{0};
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("trialog.bench_channel", ++counter);  // one connection per stub
  args.SetMaxReceiveMessageSize(64 << 20);
  return v1::LedgerService::NewStub(
      grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
}

// ---------------------------------------------------------------- gRPC runs

struct AppendRun {
  double rate = 0;  // durable appends/s
  std::vector<double> latency_ms;
  // Open loop: p99 of the requests due in each second of the run.
  std::vector<double> p99_by_second_ms;
  uint64_t ok = 0;
  uint64_t errors = 0;
  std::string first_error;
};

struct Shared {
  std::mutex mu;
  std::vector<double> latency_ms;
  uint64_t errors = 0;
  std::string first_error;
  void Merge(std::vector<double>& lat, uint64_t err, const std::string& why) {
    std::lock_guard<std::mutex> lock(mu);
    latency_ms.insert(latency_ms.end(), lat.begin(), lat.end());
    errors += err;
    if (first_error.empty()) first_error = why;
  }
};

// kCheckpoint: unary GetCheckpoint calls, no append: the cost of one unary
// round trip through gRPC and our server's handler plumbing on this machine,
// the ceiling for unary appends (it is a read of the in-memory checkpoint).
enum class Mode { kUnary, kBatch, kStream, kCheckpoint };

AppendRun RunAppends(Mode mode, const std::string& target, const std::string& trial,
                     const std::vector<v1::SignedEnvelope>& pool, int clients, int batch,
                     double seconds) {
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> ok{0};
  Shared shared;
  std::vector<std::unique_ptr<v1::LedgerService::Stub>> stubs;
  for (int c = 0; c < clients; ++c) stubs.push_back(NewStub(target));
  for (auto& stub : stubs) ConnectStub(*stub, trial);
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + absl::Seconds(seconds);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      v1::LedgerService::Stub& stub = *stubs[c];
      std::vector<double> lat;
      uint64_t err = 0;
      std::string why;
      auto fail = [&](const std::string& w) {
        ++err;
        if (why.empty()) why = w;
      };
      if (mode == Mode::kUnary || mode == Mode::kCheckpoint) {
        // Unary calls: an append of the next pre-signed envelope, or a
        // GetCheckpoint (the ceiling), each request built before its timing.
        v1::AppendRequest append;
        v1::GetCheckpointRequest checkpoint;
        append.set_trial_id(trial);
        checkpoint.set_trial_id(trial);
        for (;;) {
          const size_t i = mode == Mode::kUnary ? next.fetch_add(1) : 0;
          if ((mode == Mode::kUnary && i >= pool.size()) || absl::Now() >= deadline) break;
          if (mode == Mode::kUnary) *append.mutable_signed_envelope() = pool[i];
          grpc::ClientContext ctx;
          v1::AppendResponse append_response;
          v1::GetCheckpointResponse checkpoint_response;
          const absl::Time t0 = absl::Now();
          const grpc::Status s = mode == Mode::kUnary
                                     ? stub.Append(&ctx, append, &append_response)
                                     : stub.GetCheckpoint(&ctx, checkpoint, &checkpoint_response);
          lat.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
          if (s.ok()) {
            ++ok;
          } else {
            fail(s.error_message());
          }
        }
      } else if (mode == Mode::kBatch) {
        for (;;) {
          const size_t i = next.fetch_add(static_cast<size_t>(batch));
          if (i + static_cast<size_t>(batch) > pool.size() || absl::Now() >= deadline) break;
          grpc::ClientContext ctx;
          v1::AppendBatchRequest req;
          req.set_trial_id(trial);
          for (int k = 0; k < batch; ++k) *req.add_signed_envelopes() = pool[i + k];
          v1::AppendBatchResponse resp;
          const absl::Time t0 = absl::Now();
          grpc::Status s = stub.AppendBatch(&ctx, req, &resp);
          lat.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
          if (!s.ok()) {
            fail(s.error_message());
            continue;
          }
          for (const v1::AppendResult& r : resp.results()) {
            if (r.code() == 0) {
              ++ok;
            } else {
              fail(r.message());
            }
          }
        }
      } else {
        // One stream per client; at most kWindow envelopes in flight. The
        // server answers one stream's envelopes in the order sent (admission
        // and the sequencer keep order), so latencies pair up FIFO.
        constexpr size_t kWindow = 256;
        grpc::ClientContext ctx;
        auto stream = stub.AppendStream(&ctx);
        std::mutex mu;
        std::deque<absl::Time> sent;
        std::atomic<size_t> in_flight{0};
        std::thread reader([&] {
          v1::AppendResult r;
          while (stream->Read(&r)) {
            absl::Time t0;
            {
              std::lock_guard<std::mutex> lock(mu);
              t0 = sent.front();
              sent.pop_front();
            }
            lat.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
            --in_flight;
            if (r.code() == 0) {
              ++ok;
            } else {
              fail(r.message());
            }
          }
        });
        for (;;) {
          if (absl::Now() >= deadline) break;
          if (in_flight.load() >= kWindow) {
            absl::SleepFor(absl::Microseconds(50));
            continue;
          }
          const size_t i = next.fetch_add(1);
          if (i >= pool.size()) break;
          v1::AppendRequest req;
          req.set_trial_id(trial);
          *req.mutable_signed_envelope() = pool[i];
          {
            std::lock_guard<std::mutex> lock(mu);
            sent.push_back(absl::Now());
          }
          ++in_flight;
          if (!stream->Write(req)) break;
        }
        stream->WritesDone();
        reader.join();
        grpc::Status s = stream->Finish();
        if (!s.ok()) fail(s.error_message());
      }
      shared.Merge(lat, err, why);
    });
  }
  for (auto& th : threads) th.join();
  AppendRun r;
  r.ok = ok.load();
  r.rate = static_cast<double>(r.ok) / absl::ToDoubleSeconds(absl::Now() - start);
  r.latency_ms = std::move(shared.latency_ms);
  r.errors = shared.errors;
  r.first_error = shared.first_error;
  if (mode != Mode::kCheckpoint && next.load() >= pool.size()) {
    Log("WARNING: the pre-signed pool ran out before the deadline; raise --max_events");
  }
  return r;
}

// Open loop: request k is due at start + k / rate, sent by whichever of
// `threads` workers is free; its latency counts from when it was due, so a
// stalled server shows up as latency (no coordinated omission).
AppendRun RunOpenLoop(const std::string& target, const std::string& trial,
                      const std::vector<v1::SignedEnvelope>& pool, double rate, int threads,
                      double seconds) {
  const size_t total = std::min(pool.size(), static_cast<size_t>(rate * seconds));
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> ok{0};
  Shared shared;
  std::vector<std::vector<double>> per_second;  // latencies by due second, under shared.mu
  std::vector<std::unique_ptr<v1::LedgerService::Stub>> stubs;
  const int connections = std::min(threads, 8);
  for (int c = 0; c < connections; ++c) stubs.push_back(NewStub(target));
  // Connect every channel before the clock starts: a running client's
  // connections are up, and a TCP + HTTP/2 handshake is not append latency.
  for (auto& stub : stubs) ConnectStub(*stub, trial);
  const absl::Time start = absl::Now() + absl::Milliseconds(50);
  std::vector<std::thread> pool_threads;
  for (int t = 0; t < threads; ++t) {
    pool_threads.emplace_back([&, t] {
      std::vector<double> lat;
      std::vector<std::pair<size_t, double>> by_due;  // (k, latency ms)
      uint64_t err = 0;
      std::string why;
      for (;;) {
        const size_t k = next.fetch_add(1);
        if (k >= total) break;
        const absl::Time due = start + absl::Seconds(static_cast<double>(k) / rate);
        const absl::Time now = absl::Now();
        if (due > now) absl::SleepFor(due - now);
        grpc::ClientContext ctx;
        v1::AppendRequest req;
        req.set_trial_id(trial);
        *req.mutable_signed_envelope() = pool[k];
        v1::AppendResponse resp;
        grpc::Status s = stubs[t % connections]->Append(&ctx, req, &resp);
        lat.push_back(absl::ToDoubleMilliseconds(absl::Now() - due));
        by_due.emplace_back(k, lat.back());
        if (s.ok()) {
          ++ok;
        } else {
          ++err;
          if (why.empty()) why = s.error_message();
        }
      }
      shared.Merge(lat, err, why);
      std::lock_guard<std::mutex> lock(shared.mu);
      for (const auto& [k, ms] : by_due) {
        const size_t second = static_cast<size_t>(static_cast<double>(k) / rate);
        if (per_second.size() <= second) per_second.resize(second + 1);
        per_second[second].push_back(ms);
      }
    });
  }
  for (auto& th : pool_threads) th.join();
  AppendRun r;
  for (const std::vector<double>& ms : per_second) r.p99_by_second_ms.push_back(Percentile(ms, 0.99));
  r.ok = ok.load();
  r.rate = static_cast<double>(r.ok) / absl::ToDoubleSeconds(absl::Now() - start);
  r.latency_ms = std::move(shared.latency_ms);
  r.errors = shared.errors;
  r.first_error = shared.first_error;
  return r;
}

// ---------------------------------------------------------------- trialogd

struct LedgerKeyFiles {
  crypto::SigningKey key = crypto::SigningKey::Generate();
  std::string key_file, passphrase_file;
};

LedgerKeyFiles MakeLedgerKeyFiles(const std::string& dir) {
  LedgerKeyFiles k;
  k.key_file = dir + "/ledger.key";
  k.passphrase_file = dir + "/ledger.pass";
  const std::string passphrase = absl::StrCat("bench-", getpid(), "-passphrase");
  absl::Status s =
      crypto::WriteKeyFile(k.key_file, kLedgerName, k.key, passphrase, crypto::kKeyFileTestParams);
  if (!s.ok()) {
    Log(absl::StrCat("ledger key: ", s.message()));
    std::exit(1);
  }
  std::ofstream(k.passphrase_file) << passphrase << "\n";
  return k;
}

std::vector<std::string> TrialogdArgs(const Flags& f, const std::string& data_dir,
                                      const LedgerKeyFiles& key) {
  return {f.trialogd,
          "--data_dir=" + data_dir,
          "--listen=127.0.0.1:0",
          "--plaintext",
          "--accept_new_trials",
          "--ledger_name=" + std::string(kLedgerName),
          "--ledger_key_file=" + key.key_file,
          "--ledger_key_passphrase_file=" + key.passphrase_file,
          "--metrics_listen=127.0.0.1:0"};
}

// What one timed run cost, read around it: the CPU time of trialogd (all its
// threads) and of this process (the clients; its other threads are idle
// then), and the group commits trialogd made (from its metrics endpoint).
class RunCost {
 public:
  explicit RunCost(const Daemon& d) : d_(d) {
    server_cpu_ = CpuTime(d_.pid());
    client_cpu_ = SelfCpuTime();
    commits_ = GroupCommits();
  }
  // Puts the costs per durable append (or per `what`) of the run into `row`
  // (and its detail).
  void Finish(uint64_t appends, Row& row, absl::string_view what = "append") const {
    if (appends == 0) return;
    const double n = static_cast<double>(appends);
    row.server_cpu_us = absl::ToDoubleMicroseconds(CpuTime(d_.pid()) - server_cpu_) / n;
    row.client_cpu_us = absl::ToDoubleMicroseconds(SelfCpuTime() - client_cpu_) / n;
    std::string commits;
    const double now_commits = GroupCommits();
    if (commits_ >= 0 && now_commits > commits_) {
      row.appends_per_commit = n / (now_commits - commits_);
      commits = absl::StrFormat(", %.1f appends per group commit", *row.appends_per_commit);
    }
    row.detail += absl::StrFormat("; CPU per %s: trialogd %.0f us, bench clients %.0f us%s", what,
                                  *row.server_cpu_us, *row.client_cpu_us, commits);
  }

 private:
  static absl::Duration SelfCpuTime() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    auto tv = [](const timeval& t) { return absl::Seconds(t.tv_sec) + absl::Microseconds(t.tv_usec); };
    return tv(u.ru_utime) + tv(u.ru_stime);
  }
  // trialog_group_commits_total over all trials; -1 when unknown.
  double GroupCommits() const {
    if (d_.metrics_port() == 0) return -1;
    absl::StatusOr<std::string> text = client::HttpGetLoopback(d_.metrics_port(), "/metrics");
    if (!text.ok()) return -1;
    absl::StatusOr<double> sum = client::SumMetric(*text, "trialog_group_commits_total");
    return sum.ok() ? *sum : -1;
  }

  const Daemon& d_;
  absl::Duration server_cpu_, client_cpu_;
  double commits_ = -1;
};

bool AppendOne(v1::LedgerService::Stub& stub, const std::string& trial,
               const v1::SignedEnvelope& se) {
  grpc::ClientContext ctx;
  v1::AppendRequest req;
  req.set_trial_id(trial);
  *req.mutable_signed_envelope() = se;
  v1::AppendResponse resp;
  grpc::Status s = stub.Append(&ctx, req, &resp);
  if (!s.ok()) Log(absl::StrCat("setup append failed: ", s.error_message()));
  return s.ok();
}

std::string ModeName(Mode m) {
  switch (m) {
    case Mode::kUnary: return "unary Append";
    case Mode::kBatch: return "AppendBatch";
    case Mode::kStream: return "AppendStream";
    case Mode::kCheckpoint: return "gRPC unary ceiling: GetCheckpoint";
  }
  return "?";
}

void RunGrpc(const Flags& f, const std::string& work, std::vector<Row>& rows) {
  const LedgerKeyFiles key = MakeLedgerKeyFiles(work);
  absl::StatusOr<Daemon> d = Daemon::Start(TrialogdArgs(f, work + "/data", key),
                                           DaemonFiles(work, absl::Seconds(60)), nullptr);
  if (!d.ok()) {
    Log(absl::StrCat("trialogd: ", d.status().message()));
    std::exit(1);
  }
  const std::string trial = "bench-appends";
  const client::Signer admin = MakeAdmin();
  const std::vector<Person> people = MakePeople();
  {
    auto stub = NewStub(d->target());
    if (!AppendOne(*stub, trial, GenesisFor(trial, absl::StrCat(kLedgerName, "/", trial), admin))) {
      std::exit(1);
    }
    for (const Person& p : people) {
      if (!AppendOne(*stub, trial, RegisterFor(trial, admin, p))) std::exit(1);
    }
  }
  uint64_t signed_so_far = 0;
  auto pool_for = [&](size_t n) {
    Log(absl::StrCat("pre-signing ", n, " envelopes (not timed)"));
    auto pool = Presign(trial, people, signed_so_far, n);
    signed_so_far += n;
    return pool;
  };
  // The unary round-trip ceiling first, on the same trialogd and connections
  // as the append runs.
  for (int c : f.clients) {
    Log(absl::StrCat(ModeName(Mode::kCheckpoint), ", ", c, " clients, ", f.seconds, " s"));
    const RunCost cost(*d);
    AppendRun r = RunAppends(Mode::kCheckpoint, d->target(), trial, {}, c, 1, f.seconds);
    Row row;
    row.group = "ceiling";
    row.name = absl::StrCat(ModeName(Mode::kCheckpoint), ", ", c, c == 1 ? " client" : " clients");
    row.value = r.rate;
    row.unit = "calls/s";
    SetLatencies(row, r.latency_ms);
    row.detail = "no append: one unary round trip through gRPC and the service";
    if (r.errors > 0) row.detail += absl::StrCat("; ", r.errors, " errors, first: ", r.first_error);
    cost.Finish(r.ok, row, "call");
    rows.push_back(row);
  }
  for (Mode mode : {Mode::kUnary, Mode::kBatch, Mode::kStream}) {
    for (int c : f.clients) {
      // Enough for the fastest plausible rate over the run.
      const double guess = mode == Mode::kUnary ? 10000 : 40000;
      const size_t n = std::min(f.max_events, static_cast<size_t>(guess * f.seconds) + 1024);
      std::vector<v1::SignedEnvelope> pool = pool_for(n);
      Log(absl::StrCat(ModeName(mode), ", ", c, " clients, ", f.seconds, " s"));
      const RunCost cost(*d);
      AppendRun r = RunAppends(mode, d->target(), trial, pool, c, f.batch, f.seconds);
      Row row;
      row.group = "append";
      row.name = absl::StrCat(ModeName(mode), mode == Mode::kBatch ? absl::StrCat(" of ", f.batch) : "",
                              ", ", c, c == 1 ? " client" : " clients");
      row.value = r.rate;
      row.unit = "appends/s";
      SetLatencies(row, r.latency_ms);
      row.detail = mode == Mode::kBatch ? "latency per call" : "latency per append";
      if (r.errors > 0) {
        row.detail += absl::StrCat("; ", r.errors, " errors, first: ", r.first_error);
      }
      cost.Finish(r.ok, row);
      rows.push_back(row);
    }
  }
  {
    const size_t n = static_cast<size_t>(f.open_loop_rate * f.seconds) + 16;
    std::vector<v1::SignedEnvelope> pool = pool_for(n);
    Log(absl::StrCat("open loop at ", f.open_loop_rate, "/s offered, ", f.seconds, " s"));
    const RunCost cost(*d);
    AppendRun r =
        RunOpenLoop(d->target(), trial, pool, f.open_loop_rate, f.open_loop_threads, f.seconds);
    Row row;
    row.group = "open-loop";
    row.name = absl::StrFormat("unary Append at %.0f/s offered (%d senders)", f.open_loop_rate,
                               f.open_loop_threads);
    row.value = r.rate;
    row.unit = "appends/s";
    SetLatencies(row, r.latency_ms);
    row.detail = absl::StrCat("latency from the scheduled send time; p99 by second (ms): ",
                              absl::StrJoin(r.p99_by_second_ms, " ",
                                            [](std::string* out, double ms) {
                                              absl::StrAppend(out, absl::StrFormat("%.1f", ms));
                                            }));
    if (r.errors > 0) row.detail += absl::StrCat("; ", r.errors, " errors: ", r.first_error);
    cost.Finish(r.ok, row);
    rows.push_back(row);
  }
  const int code = d->Stop();
  if (code != 0) Log(absl::StrCat("trialogd exited with ", code));
}

// ---------------------------------------------------------------- bulk import

const Row* Find(const std::vector<Row>& rows, absl::string_view prefix);

// Batch-signed bulk import (BulkImportService.ImportBatch; docs/FORMAT.md
// §1.1): a lab registered as EXTERNAL_SYSTEM sends pre-signed batches of
// notes (one Ed25519 signature per batch) from `clients` threads, closed
// loop, each call answered only when its whole batch is durable (fsync).
// Its own trialogd, with group commits as large as the batch.
void RunBulkImport(const Flags& f, const std::string& work, std::vector<Row>& rows) {
  const LedgerKeyFiles key = MakeLedgerKeyFiles(work);
  std::vector<std::string> args = TrialogdArgs(f, work + "/data", key);
  args.push_back("--max_sequencer_batch=4096");
  absl::StatusOr<Daemon> d = Daemon::Start(args, DaemonFiles(work, absl::Seconds(60)), nullptr);
  if (!d.ok()) {
    Log(absl::StrCat("trialogd (bulk import): ", d.status().message()));
    return;
  }
  const std::string trial = "bench-import";
  const client::Signer admin = MakeAdmin();
  v1::Actor lab_actor;
  lab_actor.set_principal_id("lab-central");
  lab_actor.set_printed_name("Central laboratory");
  lab_actor.set_role(v1::ROLE_EXTERNAL_SYSTEM);
  const Person lab{client::Signer(lab_actor, crypto::SigningKey::Generate())};
  {
    auto stub = NewStub(d->target());
    if (!AppendOne(*stub, trial, GenesisFor(trial, absl::StrCat(kLedgerName, "/", trial), admin)) ||
        !AppendOne(*stub, trial, RegisterFor(trial, admin, lab))) {
      d->Stop();
      return;
    }
  }
  uint64_t made = 0;
  const std::string text(200, 'x');
  // Pre-signed batches (not timed): ~200-byte notes over 200 streams.
  auto make_batches = [&](size_t batch_size, size_t events) {
    std::vector<v1::SignedBatch> out;
    client::BatchBuilder b(lab.signer, trial);
    for (size_t i = 0; i < events; ++i, ++made) {
      v1::Envelope e;
      e.set_stream_id(absl::StrCat("lab/", made % 200));
      e.mutable_event()->mutable_trial()->mutable_note()->set_text(absl::StrCat(made, " ", text));
      b.Add(std::move(e));
      if (b.size() == batch_size) {
        absl::StatusOr<v1::SignedBatch> sb = b.Finish();
        if (sb.ok()) out.push_back(*std::move(sb));
      }
    }
    return out;
  };
  for (size_t batch_size : {size_t{1024}, size_t{4096}}) {
    for (int c : {1, 2, 4}) {
      const size_t events = std::min<size_t>(
          std::max<size_t>(f.max_events, 150000),
          static_cast<size_t>(150000 * f.seconds) / batch_size * batch_size + batch_size * c);
      Log(absl::StrCat("pre-building ", events, " import events in batches of ", batch_size,
                       " (not timed)"));
      std::vector<v1::SignedBatch> pool = make_batches(batch_size, events);
      Log(absl::StrCat("bulk import, batches of ", batch_size, ", ", c, " clients, up to ",
                       f.seconds, " s"));
      std::atomic<size_t> next{0};
      std::atomic<uint64_t> ok_events{0}, errors{0};
      std::mutex mu;
      std::vector<double> latency_ms;
      std::string first_error;
      const absl::Time start = absl::Now();
      const absl::Time stop = start + absl::Seconds(f.seconds);
      std::vector<std::thread> threads;
      for (int t = 0; t < c; ++t) {
        threads.emplace_back([&] {
          grpc::ChannelArguments ca;
          ca.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
          ca.SetMaxReceiveMessageSize(64 << 20);
          ca.SetMaxSendMessageSize(64 << 20);
          auto stub = v1::BulkImportService::NewStub(
              grpc::CreateCustomChannel(d->target(), grpc::InsecureChannelCredentials(), ca));
          std::vector<double> mine;
          while (absl::Now() < stop) {
            const size_t i = next.fetch_add(1);
            if (i >= pool.size()) break;
            v1::ImportBatchRequest req;
            req.set_trial_id(trial);
            *req.mutable_batch() = pool[i];
            v1::ImportBatchResponse resp;
            grpc::ClientContext ctx;
            ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
            const absl::Time t0 = absl::Now();
            grpc::Status st = stub->ImportBatch(&ctx, req, &resp);
            mine.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
            if (st.ok() && resp.count() == static_cast<uint64_t>(pool[i].envelopes_size())) {
              ok_events += resp.count();
            } else {
              ++errors;
              std::lock_guard<std::mutex> l(mu);
              if (first_error.empty()) first_error = st.error_message();
            }
          }
          std::lock_guard<std::mutex> l(mu);
          latency_ms.insert(latency_ms.end(), mine.begin(), mine.end());
        });
      }
      for (std::thread& t : threads) t.join();
      const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
      Row row;
      row.group = "bulk";
      row.name = absl::StrCat("batch-signed bulk import, batches of ", batch_size, ", ", c,
                              c == 1 ? " client" : " clients");
      row.value = elapsed > 0 ? static_cast<double>(ok_events.load()) / elapsed : 0;
      row.unit = "events/s";
      SetLatencies(row, latency_ms);
      row.detail = absl::StrCat("latency per batch; ", ok_events.load(), " events in ",
                                absl::StrFormat("%.1f", elapsed), " s");
      if (next.load() >= pool.size()) row.detail += " (pool exhausted before the time)";
      if (errors > 0) row.detail += absl::StrCat("; ", errors.load(), " errors, first: ", first_error);
      rows.push_back(row);
    }
  }
  const int code = d->Stop();
  if (code != 0) Log(absl::StrCat("trialogd (bulk import) exited with ", code));
}

// Fills in the bulk rows' ratios and issue 7's bulk target.
void JudgeBulk(std::vector<Row>& rows) {
  const Row* verify = Find(rows, "Ed25519 verify");
  const Row* raw = Find(rows, "synced WriteBatch");
  for (Row& r : rows) {
    if (r.group != "bulk") continue;
    std::vector<std::string> parts;
    if (verify && verify->value > 0) {
      parts.push_back(absl::StrFormat("%.1f× verify", r.value / verify->value));
    }
    if (raw && raw->value > 0) parts.push_back(absl::StrFormat("%.0f%% of raw WAL", 100 * r.value / raw->value));
    r.versus = absl::StrJoin(parts, ", ");
    r.target = "≥ 100,000/s";
    r.met = r.value >= 100000;
    r.target_ratio = r.value / 100000;
  }
}

// ---------------------------------------------------------------- PostgreSQL

// pgbench -n -M prepared -T seconds -c clients -j min(clients, cores) -f script.
std::optional<Row> RunPgbench(const Flags& f, int clients) {
  const int jobs = std::min<int>(clients, static_cast<int>(std::thread::hardware_concurrency()));
  std::vector<std::string> argv = {f.pgbench,
                                   "-n",
                                   "-M",
                                   "prepared",
                                   "-T",
                                   absl::StrCat(static_cast<int>(f.pg_seconds)),
                                   "-c",
                                   absl::StrCat(clients),
                                   "-j",
                                   absl::StrCat(jobs),
                                   "-f",
                                   f.pg_script,
                                   "-h",
                                   f.pg_host,
                                   "-p",
                                   absl::StrCat(f.pg_port)};
  if (!f.pg_user.empty()) {
    argv.push_back("-U");
    argv.push_back(f.pg_user);
  }
  argv.push_back(f.pg_db);
  Log(absl::StrCat("pgbench, ", clients, " clients, ", f.pg_seconds, " s"));
  RunOutput out = Run(argv);
  double tps = 0, lat = 0;
  for (absl::string_view line : absl::StrSplit(out.output, '\n')) {
    std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (words.size() >= 3 && words[0] == "tps" && words[1] == "=") {
      (void)absl::SimpleAtod(words[2], &tps);
    }
    if (words.size() >= 4 && words[0] == "latency" && words[1] == "average") {
      (void)absl::SimpleAtod(words[3], &lat);
    }
  }
  if (out.exit_code != 0 || tps <= 0) {
    Log(absl::StrCat("pgbench failed (exit ", out.exit_code, "): ", out.output));
    return std::nullopt;
  }
  Row row;
  row.group = "baseline";
  row.name = absl::StrCat("PostgreSQL hash-chain insert, ", clients,
                          clients == 1 ? " client" : " clients");
  row.value = tps;
  row.unit = "inserts/s";
  row.detail = absl::StrFormat("pgbench, synchronous_commit=on, avg latency %.3f ms", lat);
  return row;
}

// ---------------------------------------------------------------- scale

// 2,000 random inclusion proofs and 2,000 consistency proofs against the
// ledger's current size, timed one by one on this thread (every 50th
// inclusion proof verified against the root); appends one row for each,
// named with `suffix`, whose detail gives the read calls and disk bytes per
// proof (this thread's /proc counters).
void MeasureProofs(const storage::Ledger& l, uint64_t seed, absl::string_view suffix,
                   std::vector<Row>& rows) {
  const uint64_t n = l.size();
  const std::string root = l.root();
  std::mt19937_64 rng(seed);
  std::vector<double> inc_ms, con_ms;
  int bad = 0;
  const ThreadIo io_before = ReadThreadIo();
  for (int i = 0; i < 2000; ++i) {
    const uint64_t index = rng() % n;
    const absl::Time t0 = absl::Now();
    absl::StatusOr<std::vector<std::string>> p = l.InclusionProof(index, n);
    inc_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
    if (!p.ok()) {
      ++bad;
      continue;
    }
    if (i % 50 == 0) {  // spot-check the proofs are real
      absl::StatusOr<std::string> entry = l.ReadEntry(index);
      if (!entry.ok() || !merkle::VerifyInclusion(index, n, merkle::HashLeaf(*entry), *p, root).ok()) {
        ++bad;
      }
    }
    const uint64_t old_size = 1 + rng() % (n - 1);
    const absl::Time t1 = absl::Now();
    absl::StatusOr<std::vector<std::string>> c = l.ConsistencyProof(old_size, n);
    con_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t1));
    if (!c.ok()) ++bad;
  }
  const ThreadIo io_after = ReadThreadIo();
  const std::string reads = absl::StrFormat(
      "; per proof (inclusion and consistency averaged): %.2f read calls, %.1f KiB read from the "
      "disk (not the page cache)",
      static_cast<double>(io_after.read_calls - io_before.read_calls) / 4000,
      static_cast<double>(io_after.disk_bytes - io_before.disk_bytes) / 4000 / 1024);
  if (bad != 0) Log(absl::StrCat("WARNING: ", bad, " proofs failed"));
  Row inc;
  inc.group = "scale";
  inc.name = absl::StrCat("inclusion proof (in process", suffix, "), ", n, " entries");
  inc.value = Percentile(inc_ms, 0.5) * 1000;
  inc.unit = "µs p50";
  SetLatencies(inc, inc_ms);
  inc.detail = "storage::Ledger::InclusionProof, random index, cold-ish RocksDB block cache" + reads;
  rows.push_back(inc);
  Row con = inc;
  con.name = absl::StrCat("consistency proof (in process", suffix, "), ", n, " entries");
  con.value = Percentile(con_ms, 0.5) * 1000;
  SetLatencies(con, con_ms);
  con.detail = "storage::Ledger::ConsistencyProof, random old size";
  rows.push_back(con);
}

// Builds a ledger of `size` entries directly through storage::Ledger (the
// code trialogd runs, with the principal registry and the trial state
// machine, sync off while loading), then measures replay on reopen, proof
// latency in process, `trialog verify --data`, and trialogd's restart to
// serving, RSS and proof latency over gRPC.
void RunScale(const Flags& f, const std::string& work, std::vector<Row>& rows) {
  const uint64_t size = f.scale;
  // A kept scale dir holds its ledger key: reuse both.
  const bool reuse = !f.scale_dir.empty() && std::filesystem::exists(work + "/ledger.key") &&
                     std::filesystem::exists(work + "/data/trials/bench-scale");
  LedgerKeyFiles key;
  if (reuse) {
    key.key_file = work + "/ledger.key";
    key.passphrase_file = work + "/ledger.pass";
    std::string passphrase;
    std::getline(std::ifstream(key.passphrase_file), passphrase);
    absl::StatusOr<crypto::SigningKey> k = crypto::LoadKeyFile(key.key_file, passphrase);
    if (!k.ok()) {
      Log(absl::StrCat("kept ledger key: ", k.status().message()));
      std::exit(1);
    }
    key.key = *k;
  } else {
    key = MakeLedgerKeyFiles(work);
  }
  const std::string trial = "bench-scale";
  const std::string origin = absl::StrCat(kLedgerName, "/", trial);
  const std::string data = work + "/data";
  const std::string dir = data + "/trials/" + trial;
  std::filesystem::create_directories(dir);
  const note::NoteSigner signer(origin, key.key);
  // The admin's and coordinators' keys derive from the ledger key, so a
  // kept ledger can be extended and appended to by a later run.
  auto derived = [&](absl::string_view who) {
    absl::StatusOr<crypto::SigningKey> k =
        crypto::SigningKey::FromSeed(crypto::Sha256(key.key.seed(), who));
    if (!k.ok()) std::exit(1);
    return *k;
  };
  client::Signer admin = MakeAdmin();
  admin = client::Signer(admin.actor(), derived("bench-scale admin"));
  std::vector<Person> people = MakePeople();
  for (size_t i = 0; i < people.size(); ++i) {
    people[i].signer = client::Signer(people[i].signer.actor(), derived(absl::StrCat("bench-scale person ", i)));
  }

  auto open = [&](bool sync, ledger::PrincipalRegistry* registry,
                  trial::TrialStateMachine* machine, bool use_snapshot = true) {
    storage::LedgerOptions o;
    o.use_snapshot = use_snapshot;
    o.dir = dir;
    o.checkpoint_signer = &signer;
    o.origin = origin;
    o.max_batch = 512;
    o.sync = sync;
    absl::StatusOr<std::unique_ptr<storage::Ledger>> l =
        storage::Ledger::Open(o, registry, {machine});
    if (!l.ok()) {
      Log(absl::StrCat("opening the scale ledger: ", l.status().message()));
      std::exit(1);
    }
    return *std::move(l);
  };
  auto admitted = [](const v1::SignedEnvelope& se, const std::string& pub) {
    storage::Admitted a;
    a.signed_envelope = se;
    if (!a.envelope.ParseFromString(se.envelope())) std::exit(1);
    a.verified_key = pub;
    return a;
  };

  uint64_t built = 0;
  if (reuse) {
    ledger::PrincipalRegistry registry;
    trial::TrialStateMachine machine;
    std::unique_ptr<storage::Ledger> l = open(false, &registry, &machine);
    built = l->size();
    Log(absl::StrCat("reusing the kept ", built, "-entry ledger in ", dir));
    if (!l->Close().ok()) std::exit(1);
  }
  if (built < size) {
    Log(absl::StrCat("building a ", size, "-entry ledger (sign + sequence, sync off; not timed)"));
    ledger::PrincipalRegistry registry;
    trial::TrialStateMachine machine;
    std::unique_ptr<storage::Ledger> l = open(false, &registry, &machine);
    std::vector<storage::Admitted> setup;
    if (l->size() == 0) {
      setup.push_back(admitted(GenesisFor(trial, origin, admin), admin.public_key()));
      for (const Person& p : people) {
        setup.push_back(admitted(RegisterFor(trial, admin, p), admin.public_key()));
      }
    }
    for (auto& r : l->AppendAll(std::move(setup))) {
      if (!r.ok()) {
        Log(absl::StrCat("setup: ", r.status().message()));
        std::exit(1);
      }
    }
    uint64_t next = 0;
    const absl::Time start = absl::Now();
    while (l->size() < size) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(32768, size - l->size()));
      std::vector<v1::SignedEnvelope> signed_envs = Presign(trial, people, next, n);
      std::vector<storage::Admitted> batch;
      batch.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(admitted(signed_envs[i], people[(next + i) % people.size()].signer.public_key()));
      }
      next += n;
      for (auto& r : l->AppendAll(std::move(batch))) {
        if (!r.ok()) {
          Log(absl::StrCat("load: ", r.status().message()));
          std::exit(1);
        }
      }
      if (next % (32768 * 8) < n) {
        Log(absl::StrCat("  ", l->size(), " entries (",
                         static_cast<int>(static_cast<double>(l->size()) /
                                          absl::ToDoubleSeconds(absl::Now() - start)),
                         "/s)"));
      }
    }
    if (!l->Close().ok()) std::exit(1);
  }
  const std::string vkey = signer.verifier_key();

  // Full verification with the CLI (every entry, chain, signature, rule).
  // First, so that RocksDB's compactions after the bulk load are over
  // before the replay is timed.
  if (!f.trialog.empty()) {
    Log("trialog verify --data (all cores)");
    RunOutput out = Run({f.trialog, "verify", "--data", data, "--trial", trial, "--key", vkey});
    Row row;
    row.group = "scale";
    row.name = absl::StrCat("full verification (trialog verify --data), ", size, " entries");
    row.value = static_cast<double>(size) / std::max(1e-9, absl::ToDoubleSeconds(out.wall));
    row.unit = "entries/s";
    row.detail = absl::StrFormat("%.1f s wall incl. start-up; exit %d", absl::ToDoubleSeconds(out.wall),
                                 out.exit_code);
    if (out.exit_code != 0) {
      row.detail += ": " + out.output.substr(0, 300);
    }
    rows.push_back(row);
  }

  auto open_parts = [](const storage::OpenStats& st) {
    return absl::StrFormat(
        "whole open %.2f s = RocksDB open %.2f + checks %.3f + node cache %.3f + snapshot %.3f + "
        "replay %.2f s (%d entries)",
        absl::ToDoubleSeconds(st.open_time), absl::ToDoubleSeconds(st.rocksdb_open_time),
        absl::ToDoubleSeconds(st.check_time), absl::ToDoubleSeconds(st.node_load_time),
        absl::ToDoubleSeconds(st.snapshot_time), absl::ToDoubleSeconds(st.replay_time),
        st.replayed_entries);
  };
  // Replay on reopen (full: no snapshot) and open from the snapshot the
  // last Close wrote; in-process proofs.
  {
    uint64_t full_size = 0;
    if (!f.scale_skip_full_replay) {
      Log("reopening with a full replay (registry + trial state machine, every entry checked)");
      ledger::PrincipalRegistry registry;
      trial::TrialStateMachine machine;
      std::unique_ptr<storage::Ledger> l = open(true, &registry, &machine, /*use_snapshot=*/false);
      const storage::OpenStats& st = l->open_stats();
      full_size = l->size();
      Row replay;
      replay.group = "scale";
      replay.name = absl::StrCat("replay on open (projection rebuild), ", l->size(), " entries");
      replay.value = static_cast<double>(st.replayed_entries) /
                     std::max(1e-9, absl::ToDoubleSeconds(st.replay_time));
      replay.unit = "entries/s";
      replay.detail = absl::StrCat("full replay (no snapshot): re-hash, chain, stored nodes, rules; ",
                                   open_parts(st));
      rows.push_back(replay);
      if (!l->Close().ok()) std::exit(1);
      // The open without a snapshot made the ledger write one (in the
      // background right after open, or at Close): what it cost appends.
      const storage::SnapshotStats ss = l->snapshot_stats();
      Row stall;
      stall.group = "scale";
      stall.name = absl::StrCat("snapshot capture (state lock held), ", full_size, " entries");
      stall.value = absl::ToDoubleMilliseconds(ss.max_capture_time);
      stall.unit = "ms";
      stall.detail = absl::StrFormat(
          "%d snapshot(s) written, %d bytes; appends wait this long at their next batch; "
          "hash+sign+write (no lock) %.1f ms",
          ss.written, ss.last_bytes, absl::ToDoubleMilliseconds(ss.last_write_time));
      rows.push_back(stall);
    }
    Log("reopening from the snapshot written at close");
    ledger::PrincipalRegistry registry;
    trial::TrialStateMachine machine;
    std::unique_ptr<storage::Ledger> l = open(true, &registry, &machine);
    const storage::OpenStats& st = l->open_stats();
    if (full_size == 0) full_size = l->size();
    Row snap;
    snap.group = "scale";
    snap.name = absl::StrCat("Ledger::Open from snapshot, ", full_size, " entries");
    snap.value = absl::ToDoubleSeconds(st.open_time);
    snap.unit = "s";
    snap.detail = st.snapshot_used
                      ? absl::StrCat("snapshot at ", st.snapshot_size, "; ", open_parts(st))
                      : absl::StrCat("NO SNAPSHOT USED (", st.snapshot_fallback, "); ", open_parts(st));
    rows.push_back(snap);

    // What RocksDB holds in memory per table file (index and filter blocks,
    // outside the block cache; proportional to the ledger), read through a
    // read-only instance over the same files, and the size on disk.
    storage::DbOptions ro;
    ro.dir = dir;
    ro.read_only = true;
    {
      // The writable ledger above may be compacting: a table file listed in
      // the manifest can vanish before the read-only instance opens it.
      // Such an open fails; try again a few times.
      absl::StatusOr<std::unique_ptr<storage::Db>> rdb = storage::Db::Open(ro);
      for (int attempt = 1; !rdb.ok() && attempt < 10; ++attempt) {
        absl::SleepFor(absl::Milliseconds(200));
        rdb = storage::Db::Open(ro);
      }
      if (rdb.ok()) {
        uint64_t total = 0;
        std::string parts;
        for (int c = 0; c < storage::kCfCount; ++c) {
          const auto cf = static_cast<storage::Cf>(c);
          uint64_t v = 0;
          (*rdb)->rocks()->GetIntProperty((*rdb)->handle(cf), "rocksdb.estimate-table-readers-mem", &v);
          total += v;
          absl::StrAppend(&parts, parts.empty() ? "" : ", ", storage::CfName(cf), " ",
                          absl::StrFormat("%.1f", static_cast<double>(v) / (1 << 20)));
        }
        uint64_t disk = 0;
        std::error_code ec;
        for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
          if (e.is_regular_file(ec)) disk += e.file_size(ec);
        }
        Row mem;
        mem.group = "scale";
        mem.name = absl::StrCat("RocksDB table readers (index + filter blocks), ", l->size(), " entries");
        mem.value = static_cast<double>(total) / (1 << 20);
        mem.unit = "MiB";
        mem.detail = absl::StrFormat("per column family (MiB): %s; store on disk %.2f GiB (%.0f bytes/entry)",
                                     parts, static_cast<double>(disk) / (1 << 30),
                                     static_cast<double>(disk) / static_cast<double>(std::max<uint64_t>(1, l->size())));
        rows.push_back(mem);
      } else {
        Log(absl::StrCat("read-only open for memory figures: ", rdb.status().message()));
      }
    }

    // The lower Merkle levels load into memory on a thread after open:
    // measure proofs once it is done (steady state), and say how long after
    // open that was.
    {
      const absl::Time w0 = absl::Now();
      const bool loaded = l->WaitForNodeCache();
      Row wait;
      wait.group = "scale";
      wait.name = absl::StrCat("node cache levels 4-7 in memory, after open, ", l->size(), " entries");
      wait.value = absl::ToDoubleSeconds(absl::Now() - w0);
      wait.unit = "s";
      wait.detail = loaded ? "background load after Ledger::Open returned (proofs meanwhile read RocksDB)"
                           : "NOT LOADED (load stopped)";
      rows.push_back(wait);
    }
    MeasureProofs(*l, 7, "", rows);
    if (f.scale_cold_proofs) {
      // The same, once the OS page cache is dropped: every block a proof
      // needs below the in-memory levels then comes from the disk.
      sync();
      std::ofstream drop("/proc/sys/vm/drop_caches");
      drop << "3\n";
      drop.flush();
      if (!drop) {
        Log("--scale_cold_proofs: cannot write /proc/sys/vm/drop_caches (needs root): no cold rows");
      } else {
        drop.close();
        MeasureProofs(*l, 8, ", page cache dropped", rows);
      }
    }
    if (!l->Close().ok()) std::exit(1);
  }

  auto scale_args = [&] {
    std::vector<std::string> args = TrialogdArgs(f, data, key);
    if (f.scale_snapshot_every > 0) {
      args.push_back(absl::StrCat("--snapshot_every_entries=", f.scale_snapshot_every));
    }
    return args;
  };
  // trialogd restart to serving, RSS, proofs over gRPC.
  {
    Log("starting trialogd on the scale ledger");
    absl::Duration ready_after;
    absl::StatusOr<Daemon> d =
        Daemon::Start(scale_args(), DaemonFiles(work, absl::Minutes(30)), &ready_after);
    if (!d.ok()) {
      Log(absl::StrCat("trialogd: ", d.status().message()));
      std::exit(1);
    }
    auto stub = NewStub(d->target());
    // Serving = answers a checkpoint read.
    uint64_t n = 0;
    for (;;) {
      grpc::ClientContext ctx;
      v1::GetCheckpointRequest req;
      req.set_trial_id(trial);
      v1::GetCheckpointResponse resp;
      if (stub->GetCheckpoint(&ctx, req, &resp).ok()) {
        n = resp.tree_size();
        break;
      }
      absl::SleepFor(absl::Milliseconds(1));
    }
    Row restart;
    restart.group = "scale";
    restart.name = absl::StrCat("trialogd restart to serving, ", n, " entries");
    restart.value = absl::ToDoubleSeconds(ready_after);
    restart.unit = "s";
    restart.detail = "after a clean stop: spawn to ready file (ledgers opened from their snapshot, gRPC listening)";
    rows.push_back(restart);

    // Steady state: the lower Merkle levels load on a thread after open.
    absl::SleepFor(absl::Seconds(f.scale_settle_seconds));
    std::mt19937_64 rng(11);
    std::vector<double> inc_ms;
    for (int i = 0; i < 2000; ++i) {
      grpc::ClientContext ctx;
      v1::GetInclusionProofRequest req;
      req.set_trial_id(trial);
      req.set_index(rng() % n);
      v1::GetInclusionProofResponse resp;
      const absl::Time t0 = absl::Now();
      grpc::Status s = stub->GetInclusionProof(&ctx, req, &resp);
      inc_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
      if (!s.ok()) {
        Log(absl::StrCat("GetInclusionProof: ", s.error_message()));
        break;
      }
    }
    Row inc;
    inc.group = "scale";
    inc.name = absl::StrCat("inclusion proof over gRPC (round trip), ", n, " entries");
    inc.value = Percentile(inc_ms, 0.5) * 1000;
    inc.unit = "µs p50";
    SetLatencies(inc, inc_ms);
    inc.detail = absl::StrFormat("1 client, loopback, from %.0f s after ready", f.scale_settle_seconds);
    rows.push_back(inc);

    Row rss;
    rss.group = "scale";
    rss.name = absl::StrCat("trialogd RSS after start + 2000 proofs, ", n, " entries");
    rss.value = static_cast<double>(RssBytes(d->pid())) / (1024.0 * 1024.0);
    rss.unit = "MiB";
    rows.push_back(rss);

    // Crash restart: append a tail through trialogd (after its last
    // snapshot), SIGKILL it, and time the restart (snapshot + tail replay).
    const uint64_t tail = f.scale_tail > 0 ? f.scale_tail
                                           : std::min<uint64_t>(100000, std::max<uint64_t>(size / 20, 1024));
    Log(absl::StrCat("appending ", tail, " entries through trialogd, then SIGKILL"));
    std::vector<v1::SignedEnvelope> pool = Presign(trial, people, n, static_cast<size_t>(tail));
    RunCost cost(*d);
    AppendRun ar = RunAppends(Mode::kBatch, d->target(), trial, pool, 2, 256, 600);
    if (ar.errors > 0) Log(absl::StrCat("tail appends: ", ar.errors, " errors, first: ", ar.first_error));
    // The tail doubles as a sustained-append run on the big ledger: its
    // trialogd CPU per append includes RocksDB's flushes and compactions,
    // which grow with the ledger (fresh-ledger runs above do not see them).
    Row sustained;
    sustained.group = "scale";
    sustained.name = absl::StrCat("AppendBatch of 256, 2 clients, ", tail, " appends onto ", n,
                                  " entries");
    sustained.value = ar.rate;
    sustained.unit = "appends/s";
    SetLatencies(sustained, ar.latency_ms);
    sustained.detail = "the crash row's tail, before the SIGKILL";
    cost.Finish(ar.ok, sustained);
    rows.push_back(sustained);
    kill(d->pid(), SIGKILL);
    d->Stop();
  }
  {
    absl::Duration ready_after;
    absl::StatusOr<Daemon> d =
        Daemon::Start(scale_args(), DaemonFiles(work, absl::Minutes(30)), &ready_after);
    if (!d.ok()) {
      Log(absl::StrCat("trialogd after SIGKILL: ", d.status().message()));
      std::exit(1);
    }
    auto stub = NewStub(d->target());
    grpc::ClientContext ctx;
    v1::GetCheckpointRequest req;
    req.set_trial_id(trial);
    v1::GetCheckpointResponse resp;
    const uint64_t n = stub->GetCheckpoint(&ctx, req, &resp).ok() ? resp.tree_size() : 0;
    Row restart;
    restart.group = "scale";
    restart.name = absl::StrCat("trialogd restart to serving after SIGKILL, ", n, " entries");
    restart.value = absl::ToDoubleSeconds(ready_after);
    restart.unit = "s";
    restart.detail = "spawn to ready file; tail since the last snapshot replayed (see trialogd.log)";
    rows.push_back(restart);
    Row rss;
    rss.group = "scale";
    rss.name = absl::StrCat("trialogd RSS after SIGKILL restart, ", n, " entries");
    rss.value = static_cast<double>(RssBytes(d->pid())) / (1024.0 * 1024.0);
    rss.unit = "MiB";
    rows.push_back(rss);
    d->Stop();
    std::ifstream in(work + "/trialogd.log");
    for (std::string line; std::getline(in, line);) {
      if (absl::StrContains(line, "opened")) Log(absl::StrCat("  trialogd: ", line));
    }
  }
}

// ---------------------------------------------------------------- report

const Row* Find(const std::vector<Row>& rows, absl::string_view prefix) {
  for (const Row& r : rows) {
    if (absl::StartsWith(r.name, prefix)) return &r;
  }
  return nullptr;
}

// Fills versus / target / met from the baselines of this run and issue 7's
// targets.
void Judge(std::vector<Row>& rows) {
  const Row* verify = Find(rows, "Ed25519 verify");
  const Row* raw = Find(rows, "synced WriteBatch");
  const Row* pg1 = Find(rows, "PostgreSQL hash-chain insert, 1 client");
  const Row* pg8 = Find(rows, "PostgreSQL hash-chain insert, 8 clients");
  const double v = verify ? verify->value : 0;
  const double w = raw ? raw->value : 0;
  const double p1 = pg1 ? pg1->value : 0;
  const double p8 = pg8 ? pg8->value : 0;
  for (Row& r : rows) {
    if (r.group == "append" || r.group == "open-loop") {
      std::vector<std::string> parts;
      if (v > 0) parts.push_back(absl::StrFormat("%.0f%% of verify", 100 * r.value / v));
      if (p8 > 0) parts.push_back(absl::StrFormat("%.1f× PG(8)", r.value / p8));
      if (p1 > 0) parts.push_back(absl::StrFormat("%.1f× PG(1)", r.value / p1));
      if (w > 0) parts.push_back(absl::StrFormat("%.0f%% of raw WAL", 100 * r.value / w));
      // Unary appends against unary no-append calls with as many clients.
      if (absl::StartsWith(r.name, "unary Append, ")) {
        const Row* ceiling = Find(rows, absl::StrCat(ModeName(Mode::kCheckpoint), ", ",
                                                     r.name.substr(r.name.find(", ") + 2)));
        if (ceiling != nullptr && ceiling->value > 0) {
          parts.push_back(absl::StrFormat("%.0f%% of the unary gRPC ceiling",
                                          100 * r.value / ceiling->value));
        }
      }
      r.versus = absl::StrJoin(parts, ", ");
    }
    if (r.group == "baseline" && absl::StartsWith(r.name, "PostgreSQL") && v > 0) {
      r.versus = absl::StrFormat("%.0f%% of verify", 100 * r.value / v);
    }
    // Ratios for "≥ x" targets are value / x, for "≤ x" ones x / value.
    auto at_least = [](double value, double floor) { return value / floor; };
    auto at_most = [](double value, double ceiling) {
      return value > 0 ? ceiling / value : std::numeric_limits<double>::infinity();
    };
    if (r.group == "append" && !absl::StartsWith(r.name, "unary")) {
      r.target = "≥85% of verify and ≥4× PG(8)";
      if (v > 0 && p8 > 0) {
        r.met = r.value >= 0.85 * v && r.value >= 4 * p8;
        r.target_ratio = std::min(at_least(r.value, 0.85 * v), at_least(r.value, 4 * p8));
      } else if (v > 0) {
        r.target_ratio = at_least(r.value, 0.85 * v);  // the PostgreSQL half was not measured
      }
    }
    if (absl::StartsWith(r.name, "unary Append, 16 clients")) {
      r.target = "≥ 6,000/s";
      r.met = r.value >= 6000;
      r.target_ratio = at_least(r.value, 6000);
    }
    if (r.group == "open-loop") {
      r.target = "p99 ≤ 3 ms";
      r.met = r.p99_ms.has_value() && *r.p99_ms <= 3.0;
      if (r.p99_ms) r.target_ratio = at_most(*r.p99_ms, 3.0);
    }
    if (absl::StartsWith(r.name, "replay")) {
      r.target = "≥ 500,000/s";
      r.met = r.value >= 500000;
      r.target_ratio = at_least(r.value, 500000);
    }
    if (absl::StrContains(r.name, "proof (in process")) {  // warm and page cache dropped
      r.target = "p50 ≤ 100 µs (at 10M)";
      r.met = r.value <= 100;
      r.target_ratio = at_most(r.value, 100);
    }
    if (absl::StartsWith(r.name, "trialogd restart")) {
      r.target = "≤ 1 s (at 10M)";
      r.met = r.value <= 1.0;
      r.target_ratio = at_most(r.value, 1.0);
    }
    if (absl::StartsWith(r.name, "trialogd RSS")) {
      r.target = "≤ 300 MB (at 10M)";
      r.met = r.value * 1.048576 <= 300;
      r.target_ratio = at_most(r.value * 1.048576, 300);
    }
  }
}

std::string Num(double x) {
  if (x >= 1000) {
    std::string s = absl::StrFormat("%.0f", x);
    for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
    return s;
  }
  if (x >= 100) return absl::StrFormat("%.0f", x);
  if (x >= 10) return absl::StrFormat("%.1f", x);
  return absl::StrFormat("%.2f", x);
}

std::string Ms(const std::optional<double>& ms) {
  return ms.has_value() ? absl::StrFormat("%.3f", *ms) : "";
}

void PrintTable(const std::vector<Row>& rows, const std::string& header) {
  std::printf("%s\n\n", header.c_str());
  std::printf("| measurement | value | unit | p50 ms | p95 ms | p99 ms | vs baselines (same run) | "
              "target | met |\n");
  std::printf("|---|---:|---|---:|---:|---:|---|---|---|\n");
  for (const Row& r : rows) {
    std::printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.name.c_str(),
                Num(r.value).c_str(), r.unit.c_str(), Ms(r.p50_ms).c_str(), Ms(r.p95_ms).c_str(),
                Ms(r.p99_ms).c_str(), r.versus.c_str(), r.target.c_str(),
                r.met.has_value() ? (*r.met ? "met" : "**not met**") : "");
  }
  std::printf("\nNotes:\n");
  for (const Row& r : rows) {
    if (!r.detail.empty()) std::printf("- %s: %s\n", r.name.c_str(), r.detail.c_str());
  }
  std::fflush(stdout);
}

// The rows that have a target, as tools/bench/target_chart.h draws them.
std::string TargetChart(const std::vector<Row>& rows, const std::string& header) {
  std::vector<TargetBar> bars;
  for (const Row& r : rows) {
    if (!r.target_ratio) continue;
    TargetBar b;
    b.label = r.name;
    b.ratio = *r.target_ratio;
    b.met = r.met.value_or(false);
    const std::string measured = r.group == "open-loop" && r.p99_ms
                                     ? absl::StrFormat("p99 %.1f ms", *r.p99_ms)
                                     : absl::StrCat(Num(r.value), " ", r.unit);
    b.caption = absl::StrCat(measured, " vs ", r.target);
    bars.push_back(std::move(b));
  }
  return TargetChartSvg("trialog-bench: issue 7's targets, measured / target", header, bars);
}

nlohmann::json ToJson(const std::vector<Row>& rows, const std::string& header) {
  nlohmann::json j;
  j["header"] = header;
  for (const Row& r : rows) {
    nlohmann::json x;
    x["group"] = r.group;
    x["name"] = r.name;
    x["value"] = r.value;
    x["unit"] = r.unit;
    if (r.p50_ms) x["p50_ms"] = *r.p50_ms;
    if (r.p95_ms) x["p95_ms"] = *r.p95_ms;
    if (r.p99_ms) x["p99_ms"] = *r.p99_ms;
    if (!r.versus.empty()) x["versus"] = r.versus;
    if (!r.target.empty()) x["target"] = r.target;
    if (r.met) x["met"] = *r.met;
    if (r.target_ratio) x["target_ratio"] = *r.target_ratio;
    if (!r.detail.empty()) x["detail"] = r.detail;
    if (r.server_cpu_us) x["server_cpu_us_per_append"] = *r.server_cpu_us;
    if (r.client_cpu_us) x["client_cpu_us_per_append"] = *r.client_cpu_us;
    if (r.appends_per_commit) x["appends_per_group_commit"] = *r.appends_per_commit;
    j["rows"].push_back(x);
  }
  return j;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return absl::StrCat(a, " ", b, " ", c);
}

int Main(int argc, char** argv) {
  trialog::DisableMutexDeadlockDetectionUnlessAsked();
  CLI::App app{
      "trialog-bench: durable signed appends through a real trialogd against the machine's "
      "ceilings and the PostgreSQL hash-chain baseline, measured in the same run (issue 7). "
      "scripts/bench.sh starts PostgreSQL and runs this."};
  Flags f;
  // Later flags win (scripts/bench.sh's mode defaults come first).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--trialogd", f.trialogd, "The trialogd binary")->required();
  app.add_option("--trialog", f.trialog, "The trialog CLI (full verification at --scale)");
  app.add_option("--tmp", f.tmp, "Directory for temporary data dirs (same disk as production)");
  app.add_option("--seconds", f.seconds, "Duration of each timed run");
  app.add_option("--max_events", f.max_events, "Cap on pre-signed envelopes per append run");
  app.add_option("--clients", f.clients, "Concurrent clients for the append runs (e.g. 1,8,16)")
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--batch", f.batch, "Envelopes per AppendBatch call and per raw WriteBatch");
  app.add_option("--open_loop_rate", f.open_loop_rate, "Offered appends/s of the open-loop run");
  app.add_option("--open_loop_threads", f.open_loop_threads, "Sender threads of the open-loop run");
  app.add_option("--scale", f.scale, "Ledger size for replay/verify/proofs/restart/RSS (0 = skip)");
  app.add_option("--scale_dir", f.scale_dir,
                 "Keep the scale ledger (and its key) in this directory and reuse it when it "
                 "already holds at least --scale entries (building is not timed anyway)");
  app.add_flag("--scale_skip_full_replay", f.scale_skip_full_replay,
               "Skip the reopen with a full replay (no snapshot) at --scale: it takes minutes at 10M "
               "entries; the other scale rows are unaffected");
  app.add_flag("--scale_cold_proofs", f.scale_cold_proofs,
               "Also time the in-process proofs after dropping the OS page cache (writes 3 to "
               "/proc/sys/vm/drop_caches, so needs root; the rows are skipped with a note otherwise): "
               "proofs of entries nobody read lately");
  app.add_option("--scale_settle_seconds", f.scale_settle_seconds,
                 "Seconds between trialogd's ready and the proofs over gRPC (the lower Merkle "
                 "levels load into memory after open)");
  app.add_option("--scale_snapshot_every", f.scale_snapshot_every,
                 "trialogd --snapshot_every_entries for the scale rows (0 = trialogd's default)");
  app.add_option("--scale_tail", f.scale_tail,
                 "Entries appended through trialogd before it is SIGKILLed for the crash-restart "
                 "row (default scale/20, at most 100000)");
  app.add_flag("--skip_grpc", f.skip_grpc, "Skip the append runs through trialogd");
  app.add_flag("--skip_bulk", f.skip_bulk, "Skip the batch-signed bulk import rows (ImportBatch)");
  app.add_option("--pgbench", f.pgbench, "The pgbench binary");
  app.add_option("--pg_host", f.pg_host, "PostgreSQL host");
  app.add_option("--pg_port", f.pg_port, "PostgreSQL port (0 = skip the baseline)");
  app.add_option("--pg_db", f.pg_db, "PostgreSQL database (schema.sql already loaded)");
  app.add_option("--pg_user", f.pg_user, "PostgreSQL user");
  app.add_option("--pg_script", f.pg_script, "pgbench script (pg-baseline/insert_chain.sql)");
  app.add_option("--pg_seconds", f.pg_seconds, "Seconds per pgbench run");
  app.add_flag("--json", f.json, "Print JSON on stdout instead of the table");
  app.add_option("--json_out", f.json_out, "Also write the JSON report to this file");
  app.add_option("--svg_out", f.svg_out,
                 "Also draw every measured target as a bar of measured/target (1 = met) into this "
                 "SVG file");
  CLI11_PARSE(app, argc, argv);

  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const std::string work = MakeTempDir(f.tmp, "trialog-bench");
  const std::string load_before = LoadAverage();
  std::vector<Row> rows;

  Log(absl::StrCat("Ed25519 verify ceiling, ", cores, " threads"));
  {
    Row r;
    r.group = "baseline";
    r.name = absl::StrCat("Ed25519 verify (libsodium), ", cores, " threads");
    r.value = VerifyCeiling(f.seconds, cores);
    r.unit = "verifies/s";
    rows.push_back(r);
  }
  Log(absl::StrCat("synced WriteBatch ceiling, ", f.batch, " records per batch"));
  {
    Row r;
    r.group = "baseline";
    r.name = absl::StrCat("synced WriteBatch of ", f.batch, " × 400 B (RocksDB, fsync)");
    r.value = WriteBatchCeiling(f.tmp, f.seconds, f.batch);
    r.unit = "records/s";
    rows.push_back(r);
  }
  if (f.pg_port != 0) {
    for (int c : {1, 8}) {
      if (std::optional<Row> r = RunPgbench(f, c)) rows.push_back(*r);
    }
  }
  if (!f.skip_grpc) {
    const std::string dir = MakeTempDir(work, "grpc");
    RunGrpc(f, dir, rows);
  }
  if (!f.skip_bulk) {
    const std::string dir = MakeTempDir(work, "bulk");
    RunBulkImport(f, dir, rows);
  }
  if (f.scale > 0) {
    std::string dir = f.scale_dir;
    if (dir.empty()) {
      dir = MakeTempDir(work, "scale");
    } else {
      std::filesystem::create_directories(dir);
    }
    RunScale(f, dir, rows);
  }
  std::error_code ec;
  std::filesystem::remove_all(work, ec);

  Judge(rows);
  JudgeBulk(rows);
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  const std::string header = absl::StrCat(
      "trialog-bench ", absl::FormatTime("%Y-%m-%d %H:%M UTC", absl::Now(), absl::UTCTimeZone()),
      " on ", host, ", ", cores, " cores; load average before ", load_before, ", after ",
      LoadAverage(), "; trialogd --sync (fsync per group commit), client and server on the "
      "same machine over loopback");
  if (!f.json_out.empty()) std::ofstream(f.json_out) << ToJson(rows, header).dump(2) << "\n";
  if (!f.svg_out.empty()) std::ofstream(f.svg_out) << TargetChart(rows, header);
  if (f.json) {
    std::cout << ToJson(rows, header).dump(2) << "\n";
  } else {
    PrintTable(rows, header);
  }
  return 0;
}

}  // namespace
}  // namespace trialog::bench

int main(int argc, char** argv) { return trialog::bench::Main(argc, argv); }
