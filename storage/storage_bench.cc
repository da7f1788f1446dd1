// storage_bench: group-commit append throughput of storage::Ledger beside
// the raw synced RocksDB WriteBatch rate of the same record size, measured
// in the same run, for batch sizes 1, 8, 64 and 256; plus concurrent
// appenders and the replay rate on reopen (issue 2's benchmark).
//
//   storage_bench [--runs=5] [--entries=20000] [--depth=2] [--dir=/tmp] [--sync=1]
//   storage_bench --method=runs ...        the earlier per-run method (batch 512)
//   storage_bench --only=64 [--depth=2]    profiling: ledger runs only, with
//                                          the sequencer's time per phase
//   storage_bench --only=64 --timeline=40  ... and per run the pipeline's
//                                          timeline (storage/batch_trace.h):
//                                          the first 40 batches after the
//                                          run's first second, and medians
//   storage_bench --rows_only=64           layouts: raw records beside the
//                                          schema's rows written raw and
//                                          variants of them (RowShape), no
//                                          ledger logic: what a layout costs
//                                          in RocksDB before it is built
//
// Default ("paired") method: per round, two fresh ledgers and one fresh raw
// store are fed in alternating segments of 8 batches (ledger with 1 batch
// in flight, raw, ledger with --depth batches queued, raw, ...), so the
// shared disk's fsync latency, which swings 3x within seconds on this
// machine, hits both sides alike. Every WriteBatch on every side holds
// exactly `batch` records and is written with sync; raw records have the
// ledger entries' mean size. Ledger max_batch = batch, so each client chunk
// is one group commit. Envelopes are signed before the clock starts
// (signature verification belongs to admission, not to the sequencer); the
// principal registry is live (key re-check, rules).

#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/crypto/crypto.h"
#include "core/ledger/entry.h"
#include "core/ledger/envelope_signer.h"
#include "core/ledger/registry.h"
#include "core/note/keys.h"
#include "rocksdb/db.h"
#include "rocksdb/sst_file_writer.h"
#include "rocksdb/write_batch.h"
#include "core/util/bytes.h"
#include "core/util/mutex_debug.h"
#include "storage/batch_trace.h"
#include "storage/ledger.h"
#include "storage/schema.h"

namespace trialog::storage {
namespace {

constexpr char kOrigin[] = "trialog.bench/imt-bench-01";
constexpr char kTrial[] = "imt-bench-01";

struct Flags {
  int runs = 5;
  int depth = 2;  // batches kept queued by the d>1 ledger client
  // "paired" (default): alternating segments, see RunPaired. "runs": the
  // method of the earlier version of this benchmark (a whole ledger run,
  // then a whole raw run, per round; batch 512 instead of 256), kept so
  // older figures can be compared.
  std::string method = "paired";
  size_t entries = 20000;
  std::string dir = "/tmp";
  bool sync = true;
  size_t only = 0;  // profile mode: only ledger runs of this batch size
  size_t rows_only = 0;  // experiment: raw vs the schema's rows only, this batch size
  size_t timeline = 0;  // profile mode: print the timeline of this many batches
  // IndexerOptions::write_interval of every ledger, in ms (0: each durable
  // batch's index rows are written at once, as before session 9).
  double index_interval_ms = absl::ToDoubleMilliseconds(IndexerOptions().write_interval);
};

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    auto value = [&](absl::string_view name) -> std::optional<std::string> {
      const std::string prefix = absl::StrCat("--", name, "=");
      if (!absl::StartsWith(a, prefix)) return std::nullopt;
      return std::string(a.substr(prefix.size()));
    };
    if (auto v = value("runs")) {
      if (!absl::SimpleAtoi(*v, &f.runs) || f.runs < 1) f.runs = 5;
    } else if (auto dp = value("depth")) {
      if (!absl::SimpleAtoi(*dp, &f.depth) || f.depth < 1) f.depth = 2;
    } else if (auto e = value("entries")) {
      if (!absl::SimpleAtoi(*e, &f.entries) || f.entries < 256) f.entries = 20000;
    } else if (auto d = value("dir")) {
      f.dir = *d;
    } else if (auto m = value("method")) {
      f.method = *m;
      if (f.method != "paired" && f.method != "runs") {
        std::fprintf(stderr, "--method must be paired or runs\n");
        std::exit(2);
      }
    } else if (auto o = value("only")) {
      if (!absl::SimpleAtoi(*o, &f.only)) f.only = 0;
    } else if (auto ro = value("rows_only")) {
      if (!absl::SimpleAtoi(*ro, &f.rows_only)) f.rows_only = 0;
    } else if (auto tl = value("timeline")) {
      if (!absl::SimpleAtoi(*tl, &f.timeline)) f.timeline = 0;
    } else if (auto ii = value("index_interval_ms")) {
      if (!absl::SimpleAtod(*ii, &f.index_interval_ms) || f.index_interval_ms < 0) {
        f.index_interval_ms = 0;
      }
    } else if (auto s = value("sync")) {
      f.sync = *s != "0";
    } else {
      std::fprintf(stderr, "usage: storage_bench [--runs=5] [--entries=20000] [--depth=2] [--method=paired|runs] [--dir=/tmp] [--sync=1] [--only=BATCH [--timeline=BATCHES]] [--rows_only=BATCH] [--index_interval_ms=MS]\n");
      std::exit(2);
    }
  }
  return f;
}

std::string FreshDir(const Flags& f) {
  std::string pattern = absl::StrCat(f.dir, "/storage-bench-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  return pattern;
}

void RemoveDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

Admitted Sign(const v1::Envelope& e, const crypto::SigningKey& key) {
  Admitted a;
  a.signed_envelope = ledger::SignEnvelope(e, key);
  a.envelope = e;
  a.verified_key = key.public_key();
  return a;
}

v1::Envelope Base(absl::string_view stream) {
  v1::Envelope e;
  e.set_trial_id(kTrial);
  e.set_stream_id(std::string(stream));
  e.set_event_id(ledger::NewEventId());
  e.mutable_observed_at()->set_unix_micros(1767225600000000);
  e.mutable_observed_at()->set_utc_offset_minutes(180);
  e.mutable_actor()->set_principal_id("admin-1");
  e.mutable_actor()->set_printed_name("Bench Admin");
  e.mutable_actor()->set_role(v1::ROLE_SPONSOR_ADMIN);
  e.set_client_unix_micros(1767225600000001);
  return e;
}

struct Workload {
  Admitted genesis;
  std::vector<Admitted> notes;
};

Workload MakeWorkload(const crypto::SigningKey& admin, size_t n) {
  Workload w;
  v1::Envelope g = Base("principals");
  v1::Genesis* gen = g.mutable_event()->mutable_genesis();
  gen->set_ledger_origin(kOrigin);
  gen->set_trial_title("bench");
  gen->mutable_first_admin()->set_principal_id("admin-1");
  gen->mutable_first_admin()->set_printed_name("Bench Admin");
  gen->mutable_first_admin()->set_role(v1::ROLE_SPONSOR_ADMIN);
  gen->mutable_first_admin()->set_public_key(admin.public_key());
  w.genesis = Sign(g, admin);
  w.notes.resize(n);
  auto work = [&](size_t begin) {
    std::mt19937 rng(static_cast<uint32_t>(begin) + 1);
    for (size_t i = begin; i < n; i += 2) {
      v1::Envelope e = Base(absl::StrCat("subject/RU-01-", 1000 + rng() % 100));
      // ~200 bytes of clinical text, like a short visit note.
      e.mutable_event()->mutable_trial()->mutable_note()->set_text(absl::StrCat(
          "visit ", i, ": vitals recorded, BSA 1.12 m2, crizotinib 280 mg/m2 BID dispensed, "
          "no new adverse events; next assessment per RECIST 1.1 schedule in 8 weeks (", rng(),
          ")"));
      w.notes[i] = Sign(e, admin);
    }
  };
  std::thread other(work, 1);
  work(0);
  other.join();
  return w;
}

// Process CPU time (user + system), seconds.
double CpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct LedgerRun {
  double rate = 0;           // appends/s
  double cpu_us = 0;         // process CPU µs per append
  double mean_entry = 0;     // bytes
  SequencerStats stats;
  double replay_rate = 0;    // entries/s on reopen (0 if not measured)
};

std::unique_ptr<Ledger> OpenLedger(const std::string& dir, const note::NoteSigner& signer,
                                   ledger::PrincipalRegistry* registry, size_t max_batch,
                                   bool sync, double index_interval_ms) {
  LedgerOptions o;
  o.dir = dir;
  o.checkpoint_signer = &signer;
  o.max_batch = max_batch;
  o.sync = sync;
  o.indexer.write_interval = absl::Milliseconds(index_interval_ms);
  absl::StatusOr<std::unique_ptr<Ledger>> l = Ledger::Open(o, registry, {});
  if (!l.ok()) {
    std::fprintf(stderr, "open: %s\n", std::string(l.status().message()).c_str());
    std::exit(1);
  }
  return *std::move(l);
}

// One client appends `n` notes in chunks of `batch` (max_batch = batch, so
// each chunk is one group commit of exactly `batch` entries). With depth 1
// the client waits for each chunk's answers before sending the next
// (AppendAll); with depth d it keeps up to d chunks queued
// (AppendAllAsync), so the writer never waits for the client. Either way
// every WriteBatch holds `batch` entries and is synced before its callers
// are answered.
LedgerRun RunLedger(const Flags& f, const note::NoteSigner& signer, const Workload& w, size_t n,
                    size_t batch, int depth, bool measure_replay) {
  const std::string dir = FreshDir(f);
  LedgerRun out;
  {
    ledger::PrincipalRegistry registry;
    std::unique_ptr<Ledger> ledger = OpenLedger(dir, signer, &registry, batch, f.sync, f.index_interval_ms);
    if (!ledger->Append(w.genesis).ok()) std::exit(1);
    std::vector<std::vector<Admitted>> chunks;
    for (size_t i = 0; i < n; i += batch) {
      chunks.emplace_back(w.notes.begin() + i, w.notes.begin() + std::min(n, i + batch));
    }
    absl::Mutex mu;
    size_t outstanding = 0;  // requests submitted, not yet answered
    uint64_t bytes = 0;
    std::atomic<uint64_t> chunk_bytes{0};  // d > 1
    const double cpu0 = CpuSeconds();
    const absl::Time start = absl::Now();
    for (std::vector<Admitted>& chunk : chunks) {
      if (depth <= 1) {
        for (const auto& r : ledger->AppendAll(std::move(chunk))) {
          if (!r.ok()) {
            std::fprintf(stderr, "append: %s\n", std::string(r.status().message()).c_str());
            std::exit(1);
          }
          bytes += r->entry_bytes.size();
        }
        continue;
      }
      const size_t size = chunk.size();
      {
        absl::MutexLock lock(&mu);
        const size_t limit = static_cast<size_t>(depth - 1) * batch;
        auto room = [&] { return outstanding <= limit; };
        mu.Await(absl::Condition(&room));
        outstanding += size;
      }
      // Like a batch client (AppendBatch's BlockingCounter): per answer only
      // atomics; the lock and the wake-up once per chunk, when its last
      // answer arrives (all of a chunk's answers come from one thread).
      auto remaining = std::make_shared<std::atomic<size_t>>(size);
      ledger->AppendAllAsync(std::move(chunk), [&, remaining, size](size_t,
                                                                    absl::StatusOr<AppendResult> r) {
        if (!r.ok()) {
          std::fprintf(stderr, "append: %s\n", std::string(r.status().message()).c_str());
          std::exit(1);
        }
        chunk_bytes.fetch_add(r->entry_bytes.size(), std::memory_order_relaxed);
        if (remaining->fetch_sub(1, std::memory_order_acq_rel) != 1) return;
        absl::MutexLock lock(&mu);
        outstanding -= size;
      });
    }
    {
      absl::MutexLock lock(&mu);
      auto done = [&] { return outstanding == 0; };
      mu.Await(absl::Condition(&done));
    }
    // The index rows still pending are part of the run's cost.
    if (!ledger->WaitIndexed(ledger->size()).ok()) std::exit(1);
    out.rate = n / absl::ToDoubleSeconds(absl::Now() - start);
    out.cpu_us = (CpuSeconds() - cpu0) * 1e6 / n;
    bytes += chunk_bytes.load();
    out.mean_entry = static_cast<double>(bytes) / n;
    out.stats = ledger->sequencer_stats();
  }
  if (measure_replay) {
    ledger::PrincipalRegistry registry;
    std::unique_ptr<Ledger> ledger = OpenLedger(dir, signer, &registry, batch, f.sync, f.index_interval_ms);
    const OpenStats& st = ledger->open_stats();
    out.replay_rate = st.replayed_entries / std::max(1e-9, absl::ToDoubleSeconds(st.replay_time));
  }
  RemoveDir(dir);
  return out;
}

// The same number of records of `record_size` random bytes, `batch` per
// synced WriteBatch, into a fresh store's entries column family.
double RunRaw(const Flags& f, size_t n, size_t batch, size_t record_size, double* cpu_us) {
  const std::string dir = FreshDir(f);
  double rate = 0;
  {
    DbOptions o;
    o.dir = dir + "/raw";
    absl::StatusOr<std::unique_ptr<Db>> db = Db::Open(o);
    if (!db.ok()) std::exit(1);
    std::mt19937_64 rng(42);
    std::string value(record_size, '\0');
    for (char& c : value) c = static_cast<char>(rng());
    const double cpu0 = CpuSeconds();
    const absl::Time start = absl::Now();
    for (size_t i = 0; i < n;) {
      rocksdb::WriteBatch w;
      rocksdb::WriteBatch index_rows;
      for (size_t k = 0; k < batch && i < n; ++k, ++i) {
        value[i % record_size] ^= 1;  // not all identical
        const std::string key = EntryKey(i);
        w.Put((*db)->handle(Cf::kEntries), key, value);
      }
      if (!(*db)->Write(&w, f.sync).ok()) std::exit(1);
    }
    rate = n / absl::ToDoubleSeconds(absl::Now() - start);
    *cpu_us = (CpuSeconds() - cpu0) * 1e6 / n;
  }
  RemoveDir(dir);
  return rate;
}

// Which rows RunRawRows writes: the schema's (format 4), or a variant of
// it, to measure what a layout would cost before building it.
struct RowShape {
  const char* name;
  bool defer_nodes = false;  // node rows in the unsynced second batch
  bool index_rows = true;    // event_ids and streams rows (unsynced second batch)
  bool bundles = false;      // per batch ONE entries row (the batch's entries
                             // concatenated) and ONE node row (its nodes'
                             // hashes concatenated), as in Tessera's tiles
  // Index rows collected in memory and, every `ingest_every` entries,
  // written as sorted table files (SstFileWriter) and ingested into both
  // families at once, then meta "indexed": no memtable insert, no WAL.
  size_t ingest_every = 0;
  bool index_without_wal = false;  // the unsynced batch with WriteOptions::disableWAL
  uint32_t min_node_level = kStoredNodeMinLevel;  // node rows of levels below are not written
};
constexpr RowShape kSchemaRows{"the schema's rows (format 4)"};

// Sorts `rows` and writes them as one table file for `cf` at `path`.
void WriteRun(Db& d, Cf cf, const std::string& path,
              std::vector<std::pair<std::string, std::string>>* rows) {
  std::sort(rows->begin(), rows->end());
  rocksdb::Options options(d.rocks()->GetDBOptions(), d.rocks()->GetOptions(d.handle(cf)));
  rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), options, d.handle(cf));
  if (!writer.Open(path).ok()) std::exit(1);
  for (const auto& [key, value] : *rows) {
    if (!writer.Put(key, value).ok()) std::exit(1);
  }
  if (!writer.Finish().ok()) std::exit(1);
  rows->clear();
}

// RowShape::ingest_every: both runs (of the entries below `end`) as table
// files, ingested at once.
void IngestRuns(Db& d, const std::string& dir, size_t end,
                std::vector<std::pair<std::string, std::string>>* ids,
                std::vector<std::pair<std::string, std::string>>* streams) {
  const std::string ids_path = absl::StrCat(dir, "/ids-", end, ".sst");
  const std::string streams_path = absl::StrCat(dir, "/streams-", end, ".sst");
  WriteRun(d, Cf::kEventIds, ids_path, ids);
  WriteRun(d, Cf::kStreams, streams_path, streams);
  std::vector<rocksdb::IngestExternalFileArg> args(2);
  args[0].column_family = d.handle(Cf::kEventIds);
  args[0].external_files = {ids_path};
  args[0].options.move_files = true;
  args[1].column_family = d.handle(Cf::kStreams);
  args[1].external_files = {streams_path};
  args[1].options.move_files = true;
  rocksdb::Status s = d.rocks()->IngestExternalFiles(args);
  if (!s.ok()) {
    std::fprintf(stderr, "ingest: %s\n", s.ToString().c_str());
    std::exit(1);
  }
}

// The rows the ledger writes per entry (entry, the perfect nodes of levels
// >= 1 it completes) and per batch (the checkpoint) in the synced batch,
// then (format 3) the batch's event id and stream rows and meta "indexed"
// in a second, unsynced batch, as the indexer does (here on the same
// thread, so this is the schema's whole RocksDB cost, serialised), with the
// same key patterns, written raw: the RocksDB cost of the schema without the
// sequencer's work (checks, hashing, signing, Apply, answering). `shape`
// selects a variant (RowShape).
double RunRawRows(const Flags& f, size_t n, size_t batch, size_t record_size, double* cpu_us,
                  const RowShape& shape = kSchemaRows) {
  const std::string dir = FreshDir(f);
  double rate = 0;
  {
    DbOptions o;
    o.dir = dir + "/raw";
    absl::StatusOr<std::unique_ptr<Db>> db = Db::Open(o);
    if (!db.ok()) std::exit(1);
    Db& d = **db;
    std::mt19937_64 rng(42);
    std::string value(record_size, '\0');
    for (char& c : value) c = static_cast<char>(rng());
    const std::string hash(32, '\x5a');
    const std::string note(260, 'c');
    std::vector<uint64_t> versions(100, 0);
    std::vector<std::pair<std::string, std::string>> run_ids, run_streams;
    const double cpu0 = CpuSeconds();
    const absl::Time start = absl::Now();
    for (size_t i = 0; i < n;) {
      rocksdb::WriteBatch w;
      rocksdb::WriteBatch index_rows;
      std::string entry_bundle, node_bundle;
      const uint64_t first = i;
      for (size_t k = 0; k < batch && i < n; ++k, ++i) {
        value[i % record_size] ^= 1;
        const std::string index = EncodeBigEndian64(i);
        if (shape.bundles) {
          entry_bundle += value;
        } else {
          w.Put(d.handle(Cf::kEntries), EntryKey(i), value);
        }
        uint64_t node = i;
        uint32_t level = 0;
        while (node & 1) {  // the nodes of levels >= 1 that leaf i completes
          node >>= 1;
          ++level;
          if (level < shape.min_node_level) continue;
          if (shape.bundles) {
            node_bundle += hash;
          } else {
            (shape.defer_nodes ? index_rows : w).Put(d.handle(Cf::kNodes), NodeKey({level, node}),
                                                     hash);
          }
        }
        if (!shape.index_rows) continue;
        std::string event_id(16, '\0');
        for (char& c : event_id) c = static_cast<char>(rng());
        const size_t s = rng() % versions.size();
        const std::string stream = absl::StrCat("subject/RU-01-", 1000 + s);
        ++versions[s];
        if (shape.ingest_every > 0) {
          run_ids.emplace_back(std::move(event_id), index);
          run_streams.emplace_back(StreamKey(stream, versions[s]), index);
          continue;
        }
        index_rows.Put(d.handle(Cf::kEventIds), event_id, index);
        index_rows.Put(d.handle(Cf::kStreams), StreamKey(stream, versions[s]), index);
      }
      if (shape.bundles) {
        w.Put(d.handle(Cf::kEntries), EntryKey(first), entry_bundle);
        if (!node_bundle.empty()) w.Put(d.handle(Cf::kNodes), EntryKey(first), node_bundle);
      }
      w.Put(d.handle(Cf::kMeta), "checkpoint", note);
      if (!d.Write(&w, f.sync).ok()) std::exit(1);
      if (shape.ingest_every > 0) {
        if (run_ids.size() < shape.ingest_every && i != n) continue;
        IngestRuns(d, dir, i, &run_ids, &run_streams);  // then only the watermark below
      } else if (index_rows.Count() == 0) {
        continue;
      }
      index_rows.Put(d.handle(Cf::kMeta), "indexed", EncodeBigEndian64(i));
      rocksdb::WriteOptions unsynced;
      unsynced.disableWAL = shape.index_without_wal;
      if (!d.rocks()->Write(unsynced, &index_rows).ok()) std::exit(1);
    }
    rate = n / absl::ToDoubleSeconds(absl::Now() - start);
    *cpu_us = (CpuSeconds() - cpu0) * 1e6 / n;
  }
  RemoveDir(dir);
  return rate;
}

// The paired measurement: two fresh ledgers (one client with 1 batch in
// flight, one keeping `depth` batches queued) and one fresh raw store, all
// open at once, fed in alternating segments of 8 batches: ledger d=1, raw,
// ledger d>1, raw, ... Each side's rate is its entries over the sum of its
// own segments' wall time, so slow and fast spells of the shared disk
// (fsync latency here varies 3x within seconds) hit both sides alike.
// Every WriteBatch of every side holds `batch` records and is synced; raw
// records have the mean size of the ledger's entries (known after the first
// segment) and go into the entries column family under EntryKey order.
struct Paired {
  double closed = 0, deep = 0, raw = 0;  // records/s
  double closed_cpu_us = 0, deep_cpu_us = 0, raw_cpu_us = 0;  // process CPU per record
  double mean_entry = 0;
  SequencerStats stats;      // of the d>1 ledger
  IndexerStats index_stats;  // of the d>1 ledger
  double replay_rate = 0;    // of the d=1 ledger, on reopen (if measured)
  std::string open_detail;   // where that reopen's time went
};

Paired RunPaired(const Flags& f, const note::NoteSigner& signer, const Workload& w, size_t n,
                 size_t batch, bool measure_replay) {
  const std::string closed_dir = FreshDir(f), deep_dir = FreshDir(f), raw_dir = FreshDir(f);
  Paired out;
  {
    ledger::PrincipalRegistry closed_registry, deep_registry;
    std::unique_ptr<Ledger> closed = OpenLedger(closed_dir, signer, &closed_registry, batch, f.sync, f.index_interval_ms);
    std::unique_ptr<Ledger> deep = OpenLedger(deep_dir, signer, &deep_registry, batch, f.sync, f.index_interval_ms);
    if (!closed->Append(w.genesis).ok() || !deep->Append(w.genesis).ok()) std::exit(1);
    DbOptions o;
    o.dir = raw_dir + "/raw";
    absl::StatusOr<std::unique_ptr<Db>> raw = Db::Open(o);
    if (!raw.ok()) std::exit(1);
    std::mt19937_64 rng(42);
    std::string value;
    uint64_t raw_index = 0, entry_bytes = 0;
    absl::Duration closed_time, deep_time, raw_time;
    double closed_cpu = 0, deep_cpu = 0, raw_cpu = 0;
    auto check = [](const absl::StatusOr<AppendResult>& r) {
      if (!r.ok()) {
        std::fprintf(stderr, "append: %s\n", std::string(r.status().message()).c_str());
        std::exit(1);
      }
    };
    auto raw_segment = [&](size_t count) {
      const double cpu0 = CpuSeconds();
      const absl::Time t0 = absl::Now();
      for (size_t done = 0; done < count;) {
        rocksdb::WriteBatch wb;
        for (size_t k = 0; k < batch && done < count; ++k, ++done, ++raw_index) {
          value[raw_index % value.size()] ^= 1;  // not all identical
          wb.Put((*raw)->handle(Cf::kEntries), EntryKey(raw_index), value);
        }
        if (!(*raw)->Write(&wb, f.sync).ok()) std::exit(1);
      }
      raw_time += absl::Now() - t0;
      raw_cpu += CpuSeconds() - cpu0;
    };
    const size_t segment = 8 * batch;
    for (size_t begin = 0; begin < n; begin += segment) {
      const size_t end = std::min(n, begin + segment);
      std::vector<std::vector<Admitted>> closed_chunks, deep_chunks;
      for (size_t i = begin; i < end; i += batch) {
        closed_chunks.emplace_back(w.notes.begin() + i, w.notes.begin() + std::min(end, i + batch));
        deep_chunks.push_back(closed_chunks.back());
      }
      // Ledger, one batch in flight.
      double cpu0 = CpuSeconds();
      absl::Time t0 = absl::Now();
      for (std::vector<Admitted>& chunk : closed_chunks) {
        for (const auto& r : closed->AppendAll(std::move(chunk))) {
          check(r);
          entry_bytes += r->entry_bytes.size();
        }
      }
      closed_time += absl::Now() - t0;
      closed_cpu += CpuSeconds() - cpu0;
      if (value.empty()) {
        value.resize(std::max<uint64_t>(1, entry_bytes / (end - begin)));
        for (char& c : value) c = static_cast<char>(rng());
      }
      raw_segment(end - begin);
      // Ledger, `depth` batches queued.
      absl::Mutex mu;
      size_t outstanding = 0;
      cpu0 = CpuSeconds();
      t0 = absl::Now();
      for (std::vector<Admitted>& chunk : deep_chunks) {
        {
          absl::MutexLock lock(&mu);
          const size_t limit = static_cast<size_t>(std::max(1, f.depth) - 1) * batch;
          auto room = [&] { return outstanding <= limit; };
          mu.Await(absl::Condition(&room));
          outstanding += chunk.size();
        }
        // One lock and wake-up per chunk (see RunLedger).
        const size_t size = chunk.size();
        auto remaining = std::make_shared<std::atomic<size_t>>(size);
        deep->AppendAllAsync(std::move(chunk), [&, remaining, size](size_t,
                                                                   absl::StatusOr<AppendResult> r) {
          check(r);
          if (remaining->fetch_sub(1, std::memory_order_acq_rel) != 1) return;
          absl::MutexLock lock(&mu);
          outstanding -= size;
        });
      }
      {
        absl::MutexLock lock(&mu);
        auto drained = [&] { return outstanding == 0; };
        mu.Await(absl::Condition(&drained));
      }
      deep_time += absl::Now() - t0;
      deep_cpu += CpuSeconds() - cpu0;
      raw_segment(end - begin);
    }
    // The index rows each ledger still holds pending are part of its cost.
    for (auto [ledger, time, cpu] : {std::tuple(closed.get(), &closed_time, &closed_cpu),
                                     std::tuple(deep.get(), &deep_time, &deep_cpu)}) {
      const double cpu0 = CpuSeconds();
      const absl::Time t0 = absl::Now();
      if (!ledger->WaitIndexed(ledger->size()).ok()) std::exit(1);
      *time += absl::Now() - t0;
      *cpu += CpuSeconds() - cpu0;
    }
    out.closed = n / absl::ToDoubleSeconds(closed_time);
    out.deep = n / absl::ToDoubleSeconds(deep_time);
    out.raw = raw_index / absl::ToDoubleSeconds(raw_time);
    out.closed_cpu_us = closed_cpu * 1e6 / n;
    out.deep_cpu_us = deep_cpu * 1e6 / n;
    out.raw_cpu_us = raw_cpu * 1e6 / raw_index;
    out.mean_entry = static_cast<double>(entry_bytes) / n;
    out.stats = deep->sequencer_stats();
    out.index_stats = deep->indexer_stats();
  }
  if (measure_replay) {
    ledger::PrincipalRegistry registry;
    std::unique_ptr<Ledger> ledger = OpenLedger(closed_dir, signer, &registry, batch, f.sync, f.index_interval_ms);
    const OpenStats& st = ledger->open_stats();
    out.replay_rate = st.replayed_entries / std::max(1e-9, absl::ToDoubleSeconds(st.replay_time));
    out.open_detail = absl::StrFormat(
        "whole open %.3f s = RocksDB open %.3f + checks %.3f + node cache %.3f + replay %.3f "
        "+ rest %.3f",
        absl::ToDoubleSeconds(st.open_time), absl::ToDoubleSeconds(st.rocksdb_open_time),
        absl::ToDoubleSeconds(st.check_time), absl::ToDoubleSeconds(st.node_load_time),
        absl::ToDoubleSeconds(st.replay_time),
        absl::ToDoubleSeconds(st.open_time - st.rocksdb_open_time - st.check_time -
                              st.node_load_time - st.replay_time));
  }
  RemoveDir(closed_dir);
  RemoveDir(deep_dir);
  RemoveDir(raw_dir);
  return out;
}

// `threads` clients each calling Append() (max_batch 512): natural group commit.
LedgerRun RunConcurrent(const Flags& f, const note::NoteSigner& signer, const Workload& w,
                        size_t n, int threads) {
  const std::string dir = FreshDir(f);
  LedgerRun out;
  {
    ledger::PrincipalRegistry registry;
    std::unique_ptr<Ledger> ledger = OpenLedger(dir, signer, &registry, 512, f.sync, f.index_interval_ms);
    if (!ledger->Append(w.genesis).ok()) std::exit(1);
    std::vector<std::thread> clients;
    const absl::Time start = absl::Now();
    for (int t = 0; t < threads; ++t) {
      clients.emplace_back([&, t] {
        for (size_t i = t; i < n; i += threads) {
          if (!ledger->Append(w.notes[i]).ok()) std::exit(1);
        }
      });
    }
    for (std::thread& c : clients) c.join();
    if (!ledger->WaitIndexed(ledger->size()).ok()) std::exit(1);  // part of the cost
    out.rate = n / absl::ToDoubleSeconds(absl::Now() - start);
    out.stats = ledger->sequencer_stats();
  }
  RemoveDir(dir);
  return out;
}

// The pipeline's timeline (storage/batch_trace.h): per batch, µs from the
// first printed batch's `taken`, and medians over the whole run of each
// step and of the gaps where a thread waited.
void PrintTimeline(const std::vector<BatchTimes>& all,
                   const std::vector<std::pair<absl::Time, absl::Time>>& index_writes,
                   size_t count) {
  if (all.size() < 3) return;
  // Skip the genesis batch and the first second (warm-up), if the run is long enough.
  size_t first = 1;
  while (first + count < all.size() && all[first].taken - all[1].taken < absl::Seconds(1)) ++first;
  const absl::Time t0 = all[first].taken;
  auto us = [&](absl::Time t) { return absl::ToDoubleMicroseconds(t - t0); };
  std::printf("timeline (µs from batch %zu taken): batch requests queued-after | taken sequenced "
              "handed write_start write_end answered | writer idle before write\n", first);
  for (size_t i = first; i < std::min(all.size(), first + count); ++i) {
    const BatchTimes& b = all[i];
    const double idle = absl::ToDoubleMicroseconds(b.write_start - all[i - 1].answered);
    std::printf("  %4zu %4llu %4llu | %9.0f %9.0f %9.0f %9.0f %9.0f %9.0f | %7.0f\n", i,
                static_cast<unsigned long long>(b.requests),
                static_cast<unsigned long long>(b.queued), us(b.taken), us(b.sequenced),
                us(b.handed), us(b.write_start), us(b.write_end), us(b.answered), idle);
  }
  std::vector<double> seq, handoff, to_write, write, answer, writer_idle, seq_idle, ready_before;
  for (size_t i = 2; i < all.size(); ++i) {
    const BatchTimes& b = all[i];
    const BatchTimes& p = all[i - 1];
    seq.push_back(absl::ToDoubleMicroseconds(b.sequenced - b.taken));
    handoff.push_back(absl::ToDoubleMicroseconds(b.handed - b.sequenced));
    to_write.push_back(absl::ToDoubleMicroseconds(b.write_start - b.handed));
    write.push_back(absl::ToDoubleMicroseconds(b.write_end - b.write_start));
    answer.push_back(absl::ToDoubleMicroseconds(b.answered - b.write_end));
    // The writing thread between answering the previous batch and starting this write.
    writer_idle.push_back(absl::ToDoubleMicroseconds(b.write_start - p.answered));
    // The sequencing thread between handing the previous batch and taking this one.
    seq_idle.push_back(absl::ToDoubleMicroseconds(b.taken - p.handed));
    // How long before the writer was free this batch was sequenced (< 0: after).
    ready_before.push_back(absl::ToDoubleMicroseconds(p.answered - b.sequenced));
  }
  std::printf("medians over %zu batches (µs): sequence+sign %.0f, hand-over wait %.0f, handed->write "
              "%.0f, write %.0f, answer %.0f | writer idle between batches %.0f, sequencer idle "
              "(handed prev -> taken) %.0f, next batch sequenced before the writer was free by %.0f\n",
              seq.size(), Median(seq), Median(handoff), Median(to_write), Median(write),
              Median(answer), Median(writer_idle), Median(seq_idle), Median(ready_before));
  // Synced writes that began while an index write was in RocksDB (they
  // queue behind it: RocksDB writes one group at a time here).
  size_t behind = 0;
  std::vector<double> index_us, left_us;
  for (const auto& [start, end] : index_writes) index_us.push_back(absl::ToDoubleMicroseconds(end - start));
  size_t j = 0;
  for (size_t i = 1; i < all.size(); ++i) {
    const absl::Time w = all[i].write_start;
    while (j < index_writes.size() && index_writes[j].second <= w) ++j;
    if (j < index_writes.size() && index_writes[j].first <= w) {
      ++behind;
      left_us.push_back(absl::ToDoubleMicroseconds(index_writes[j].second - w));
    }
  }
  if (!index_us.empty()) {
    std::printf("index writes: %zu, median %.0f µs; synced writes started while one was in "
                "progress: %zu of %zu (median %.0f µs of it left)\n",
                index_us.size(), Median(index_us), behind, all.size() - 1,
                left_us.empty() ? 0.0 : Median(left_us));
  }
}

int Main(int argc, char** argv) {
  trialog::DisableMutexDeadlockDetectionUnlessAsked();
  const Flags f = ParseFlags(argc, argv);
  if (!crypto::Init().ok()) return 1;
  const crypto::SigningKey admin = crypto::SigningKey::Generate();
  const note::NoteSigner signer(kOrigin, crypto::SigningKey::Generate());
  const absl::Time t0 = absl::Now();
  const Workload w = MakeWorkload(admin, f.entries);
  std::printf("storage_bench: %d runs, up to %zu entries per run, sync=%d, dir=%s\n", f.runs,
              f.entries, f.sync ? 1 : 0, f.dir.c_str());
  std::printf("signed %zu envelopes in %.2f s (not timed below)\n\n", f.entries,
              absl::ToDoubleSeconds(absl::Now() - t0));

  if (f.rows_only > 0) {
    // Interleaved per round: raw records, then each row shape; medians of
    // the rounds. What a storage layout would cost in RocksDB alone, before
    // anyone builds it (issue 2: the ledger's rows against raw).
    const RowShape shapes[] = {
        kSchemaRows,
        {"  with node rows at levels 1-3 too (format 3)", false, true, false, 0, false, 1},
        {"  with the node rows deferred to the unsynced batch", true, true, false},
        {"  without the index rows (event_ids, streams)", false, false, false},
        {"  without index rows, entries and nodes as one row each per batch", false, false, true},
        {"  with index rows, entries and nodes as one row each per batch", false, true, true},
        {"  index rows ingested as table files every 16384 entries", false, true, false, 16384},
        {"  index rows written without the WAL", false, true, false, 0, true},
        {"  index rows ingested as table files every 65536 entries", false, true, false, 65536},
    };
    constexpr size_t kShapes = sizeof(shapes) / sizeof(shapes[0]);
    std::vector<double> raw, raw_cpu;
    std::vector<std::vector<double>> rate(kShapes), cpu(kShapes), ratio(kShapes);
    const size_t size = 440;  // about the bench's mean entry size
    for (int r = 0; r < f.runs; ++r) {
      double c = 0;
      raw.push_back(RunRaw(f, f.entries, f.rows_only, size, &c));
      raw_cpu.push_back(c);
      for (size_t k = 0; k < kShapes; ++k) {
        rate[k].push_back(RunRawRows(f, f.entries, f.rows_only, size, &c, shapes[k]));
        cpu[k].push_back(c);
        ratio[k].push_back(rate[k].back() / raw.back());
      }
    }
    std::printf("batch %zu, %zu records of %zu B, medians of %d rounds (ratio: median of the "
                "rounds' ratios to raw)\n",
                f.rows_only, f.entries, size, f.runs);
    std::printf("  %-68s %9.0f /s  %5.1f CPU µs/record\n", "raw (one row per record)",
                Median(raw), Median(raw_cpu));
    for (size_t k = 0; k < kShapes; ++k) {
      std::printf("  %-68s %9.0f /s  %5.1f CPU µs/record  %4.0f%% of raw\n", shapes[k].name,
                  Median(rate[k]), Median(cpu[k]), 100 * Median(ratio[k]));
    }
    return 0;
  }
  if (f.only > 0) {
    for (int r = 0; r < f.runs; ++r) {
      BatchTrace trace(f.timeline > 0 ? f.entries : 0);
      if (f.timeline > 0) BatchTrace::Install(&trace);
      LedgerRun l = RunLedger(f, signer, w, f.entries, f.only, f.depth, false);
      BatchTrace::Install(nullptr);
      if (f.timeline > 0) PrintTimeline(trace.batches(), trace.index_writes(), f.timeline);
      const SequencerStats& st = l.stats;
      const double per = 1e6 / std::max<uint64_t>(1, st.entries_appended);
      std::printf("batch %zu depth %d: %.0f appends/s, %.1f CPU µs/append; writer µs/entry: "
                  "sequence %.1f, sign %.1f, write %.1f, answer %.1f; thread CPU µs/entry: "
                  "sequencing %.1f, writing %.1f\n",
                  f.only, f.depth, l.rate, l.cpu_us, absl::ToDoubleSeconds(st.sequence_time) * per,
                  absl::ToDoubleSeconds(st.sign_time) * per,
                  absl::ToDoubleSeconds(st.write_time) * per,
                  absl::ToDoubleSeconds(st.answer_time) * per,
                  absl::ToDoubleSeconds(st.sequence_cpu_time) * per,
                  absl::ToDoubleSeconds(st.commit_cpu_time) * per);
    }
    return 0;
  }
  if (f.method == "runs") {
    std::printf("method runs: per round a whole ledger run (1 client, 1 batch in flight), then a\n"
                "whole raw run; medians of the rounds\n\n");
    std::printf("%-6s %9s %14s %14s %7s   %s\n", "batch", "entries", "ledger/s", "raw rec/s",
                "ratio", "runs: ledger | raw");
    for (size_t batch : {size_t{1}, size_t{8}, size_t{64}, size_t{512}}) {
      const size_t n =
          std::min(f.entries, batch == 1 ? size_t{1500} : batch == 8 ? size_t{8000} : f.entries);
      std::vector<double> ledger_rates, raw_rates;
      double entry_size = 0;
      for (int r = 0; r < f.runs; ++r) {
        LedgerRun l = RunLedger(f, signer, w, n, batch, 1, false);
        entry_size = l.mean_entry;
        ledger_rates.push_back(l.rate);
        double raw_cpu = 0;
        raw_rates.push_back(RunRaw(f, n, batch, static_cast<size_t>(entry_size), &raw_cpu));
      }
      const double lm = Median(ledger_rates), rm = Median(raw_rates);
      std::string runs;
      for (double x : ledger_rates) absl::StrAppend(&runs, static_cast<int64_t>(x), " ");
      absl::StrAppend(&runs, "| ");
      for (double x : raw_rates) absl::StrAppend(&runs, static_cast<int64_t>(x), " ");
      std::printf("%-6zu %9zu %14.0f %14.0f %6.0f%%   %s (entry %.0f B)\n", batch, n, lm, rm,
                  100.0 * lm / rm, runs.c_str(), entry_size);
      std::fflush(stdout);
    }
    return 0;
  }
  std::printf("Per batch size and round: two fresh ledgers and a fresh raw store fed in\n"
              "alternating segments of 8 batches (ledger d=1, raw, ledger d=%d, raw, ...);\n"
              "rates are entries over each side's own segment time. d=1: the client waits\n"
              "for each batch's answers; d=%d: it keeps %d batches queued. Medians of the\n"
              "rounds; ratio = median of the per-round ratios ledger/raw.\n\n",
              f.depth, f.depth, f.depth);
  std::printf("%-6s %8s %11s %11s %11s %7s %7s   %s\n", "batch", "entries", "ledger d=1",
              "ledger d>1", "raw rec/s", "ratio1", "ratio>1", "per-round ratios d=1 | d>1");
  double replay = 0;
  for (size_t batch : {size_t{1}, size_t{8}, size_t{64}, size_t{256}}) {
    const size_t n = std::min(f.entries, batch == 1 ? size_t{600} : batch == 8 ? size_t{4000} : f.entries);
    std::vector<double> closed_rates, deep_rates, raw_rates, closed_ratios, deep_ratios;
    std::vector<double> replay_rates, closed_cpu, deep_cpu, raw_cpus, rows_rates, rows_cpus;
    Paired last;
    for (int r = 0; r < f.runs; ++r) {
      Paired p = RunPaired(f, signer, w, n, batch, /*measure_replay=*/batch == 256);
      last = p;
      closed_rates.push_back(p.closed);
      deep_rates.push_back(p.deep);
      raw_rates.push_back(p.raw);
      closed_ratios.push_back(p.closed / p.raw);
      deep_ratios.push_back(p.deep / p.raw);
      closed_cpu.push_back(p.closed_cpu_us);
      deep_cpu.push_back(p.deep_cpu_us);
      raw_cpus.push_back(p.raw_cpu_us);
      if (batch == 256) replay_rates.push_back(p.replay_rate);
      double rows_cpu = 0;
      rows_rates.push_back(RunRawRows(f, n, batch, static_cast<size_t>(p.mean_entry), &rows_cpu));
      rows_cpus.push_back(rows_cpu);
    }
    std::string runs;
    for (double x : closed_ratios) absl::StrAppend(&runs, static_cast<int64_t>(100 * x + 0.5), "% ");
    absl::StrAppend(&runs, "| ");
    for (double x : deep_ratios) absl::StrAppend(&runs, static_cast<int64_t>(100 * x + 0.5), "% ");
    std::printf("%-6zu %8zu %11.0f %11.0f %11.0f %6.0f%% %6.0f%%   %s(entry %.0f B)\n", batch, n,
                Median(closed_rates), Median(deep_rates), Median(raw_rates),
                100 * Median(closed_ratios), 100 * Median(deep_ratios), runs.c_str(),
                last.mean_entry);
    const SequencerStats& st = last.stats;
    const double per = 1e6 / std::max<uint64_t>(1, st.entries_appended);
    std::printf("       CPU µs/record (median): ledger d=1 %.1f, d>1 %.1f, raw %.1f; the ledger's "
                "rows written raw (separately): %.0f entries/s, %.1f CPU µs\n",
                Median(closed_cpu), Median(deep_cpu), Median(raw_cpus), Median(rows_rates),
                Median(rows_cpus));
    std::printf("       d>1 sequencer µs/entry (last round): sequence %.1f, sign %.1f, hand-over "
                "wait %.1f | write %.1f, answer %.1f; thread CPU: sequencing %.1f, writing %.1f; "
                "%llu batches, largest %llu; index: %llu writes, %.0f entries each\n",
                absl::ToDoubleSeconds(st.sequence_time) * per,
                absl::ToDoubleSeconds(st.sign_time) * per,
                absl::ToDoubleSeconds(st.handoff_wait_time) * per,
                absl::ToDoubleSeconds(st.write_time) * per,
                absl::ToDoubleSeconds(st.answer_time) * per,
                absl::ToDoubleSeconds(st.sequence_cpu_time) * per,
                absl::ToDoubleSeconds(st.commit_cpu_time) * per,
                static_cast<unsigned long long>(st.batches_written),
                static_cast<unsigned long long>(st.largest_batch),
                static_cast<unsigned long long>(last.index_stats.writes),
                static_cast<double>(last.index_stats.rows) /
                    static_cast<double>(std::max<uint64_t>(1, last.index_stats.writes)));
    std::fflush(stdout);
    if (batch == 256) {
      replay = Median(replay_rates);
      std::printf("       reopen of the last round's d=1 ledger: %s\n", last.open_detail.c_str());
    }
  }
  std::printf("\nreplay on reopen (%zu entries, registry only): %.0f entries/s (median)\n",
              f.entries, replay);

  for (int threads : {16, 64}) {
    std::vector<double> rates;
    SequencerStats st;
    const size_t n = std::min<size_t>(f.entries, 20000);
    for (int r = 0; r < f.runs; ++r) {
      LedgerRun l = RunConcurrent(f, signer, w, n, threads);
      rates.push_back(l.rate);
      st = l.stats;
    }
    std::printf("%d concurrent Append() callers, %zu entries: %.0f appends/s (median); "
                "last run: %llu batches, mean %.1f per batch, largest %llu\n",
                threads, n, Median(rates), static_cast<unsigned long long>(st.batches_written),
                static_cast<double>(st.entries_appended) / std::max<uint64_t>(1, st.batches_written),
                static_cast<unsigned long long>(st.largest_batch));
  }
  return 0;
}

}  // namespace
}  // namespace trialog::storage

int main(int argc, char** argv) { return trialog::storage::Main(argc, argv); }
