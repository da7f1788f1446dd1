// server_bench: durable, signed appends per second through the real trialogd
// on loopback (client and server share this machine's cores). Not a test.
//
//   server_bench [--seconds_budget] : runs unary Append (16 threads over 4
//   connections), AppendBatch (64 per call, 4 threads), AppendStream (4
//   streams) and the verifying client library (16 threads), each with
//   envelopes signed before the clock starts; prints rates, latencies and the
//   server's group-commit sizes from /metrics.

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "tests/server/test_support.h"

namespace trialog::testing {
namespace {

struct Result {
  double rate = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  int errors = 0;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

// Sums the per-trial group-commit counters in a /metrics page.
std::pair<double, double> CommitCounters(int metrics_port) {
  absl::StatusOr<std::string> page = HttpGet(metrics_port, "/metrics");
  double commits = 0, entries = 0;
  if (!page.ok()) return {0, 0};
  for (absl::string_view line : absl::StrSplit(*page, '\n')) {
    auto value = [&] { return std::stod(std::string(line.substr(line.rfind(' ') + 1))); };
    if (absl::StartsWith(line, "trialog_group_commits_total{")) commits += value();
    if (absl::StartsWith(line, "trialog_group_commit_entries_total{")) entries += value();
  }
  return {commits, entries};
}

int Main() {
  TempDir dir;
  absl::StatusOr<LedgerKey> key = MakeLedgerKey(dir, "bench.test");
  if (!key.ok()) return 1;
  auto d = Trialogd::Start(dir, {"--data_dir=" + dir.File("data"), "--listen=127.0.0.1:0",
                                 "--plaintext", "--metrics_listen=127.0.0.1:0",
                                 "--accept_new_trials", "--ledger_key_file=" + key->key_file,
                                 "--ledger_key_passphrase_file=" + key->passphrase_file});
  if (!d.ok()) {
    std::fprintf(stderr, "%s\n", std::string(d.status().message()).c_str());
    return 1;
  }
  const std::string trial = "bench";
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  std::vector<Principal> people;
  {
    auto stub = PlainStub((*d)->target());
    auto append = [&](const v1::SignedEnvelope& se) {
      grpc::ClientContext ctx;
      v1::AppendRequest req;
      req.set_trial_id(trial);
      *req.mutable_signed_envelope() = se;
      v1::AppendResponse resp;
      return stub->Append(&ctx, req, &resp).ok();
    };
    if (!append(Genesis(trial, "bench.test/" + trial, admin))) return 1;
    for (int i = 0; i < 16; ++i) {
      people.push_back(MakePrincipal(absl::StrCat("p", i), v1::ROLE_STUDY_COORDINATOR, "s1"));
      if (!append(Register(trial, admin, people.back()))) return 1;
    }
  }
  auto presign = [&](int threads, int per_thread) {
    std::vector<std::vector<v1::SignedEnvelope>> out(threads);
    for (int t = 0; t < threads; ++t) {
      for (int i = 0; i < per_thread; ++i) {
        out[t].push_back(Note(trial, people[t % people.size()],
                              absl::StrCat("subject/S-", t, "-", i % 50), "bench note text"));
      }
    }
    return out;
  };

  auto report = [&](const char* name, const Result& r, std::pair<double, double> before) {
    std::pair<double, double> after = CommitCounters((*d)->metrics_port());
    const double commits = after.first - before.first;
    const double mean_batch = commits > 0 ? (after.second - before.second) / commits : 0;
    std::printf("%-44s %9.0f appends/s  p50 %7.2f ms  p99 %7.2f ms  mean group commit %6.1f  "
                "errors %d\n",
                name, r.rate, r.p50_ms, r.p99_ms, mean_batch, r.errors);
    std::fflush(stdout);
  };

  // Unary Append: 16 threads over 4 connections.
  {
    constexpr int kThreads = 16, kEach = 250;
    auto envs = presign(kThreads, kEach);
    std::vector<std::unique_ptr<v1::LedgerService::Stub>> stubs;
    for (int c = 0; c < 4; ++c) stubs.push_back(PlainStub((*d)->target()));
    std::vector<std::vector<double>> lat(kThreads);
    std::atomic<int> errors{0};
    auto before = CommitCounters((*d)->metrics_port());
    absl::Time start = absl::Now();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (const auto& se : envs[t]) {
          grpc::ClientContext ctx;
          v1::AppendRequest req;
          req.set_trial_id(trial);
          *req.mutable_signed_envelope() = se;
          v1::AppendResponse resp;
          absl::Time t0 = absl::Now();
          if (!stubs[t % 4]->Append(&ctx, req, &resp).ok()) ++errors;
          lat[t].push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
        }
      });
    }
    for (auto& th : threads) th.join();
    std::vector<double> all;
    for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
    Result r{kThreads * kEach / absl::ToDoubleSeconds(absl::Now() - start),
             Percentile(all, 0.5), Percentile(all, 0.99), errors.load()};
    report("Append, 16 threads x 4 connections", r, before);
  }
  // AppendBatch of 64, 4 threads.
  {
    constexpr int kThreads = 4, kEach = 64 * 40;
    auto envs = presign(kThreads, kEach);
    std::vector<std::vector<double>> lat(kThreads);
    std::atomic<int> errors{0};
    auto before = CommitCounters((*d)->metrics_port());
    absl::Time start = absl::Now();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto stub = PlainStub((*d)->target());
        for (int b = 0; b < kEach / 64; ++b) {
          grpc::ClientContext ctx;
          v1::AppendBatchRequest req;
          req.set_trial_id(trial);
          for (int i = 0; i < 64; ++i) *req.add_signed_envelopes() = envs[t][b * 64 + i];
          v1::AppendBatchResponse resp;
          absl::Time t0 = absl::Now();
          if (!stub->AppendBatch(&ctx, req, &resp).ok()) ++errors;
          for (const auto& res : resp.results()) errors += res.code() != 0;
          lat[t].push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
        }
      });
    }
    for (auto& th : threads) th.join();
    std::vector<double> all;
    for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
    Result r{kThreads * kEach / absl::ToDoubleSeconds(absl::Now() - start),
             Percentile(all, 0.5), Percentile(all, 0.99), errors.load()};
    report("AppendBatch of 64, 4 threads (per-call latency)", r, before);
  }
  // AppendStream, 4 streams.
  {
    constexpr int kThreads = 4, kEach = 2500;
    auto envs = presign(kThreads, kEach);
    std::atomic<int> errors{0};
    auto before = CommitCounters((*d)->metrics_port());
    absl::Time start = absl::Now();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto stub = PlainStub((*d)->target());
        grpc::ClientContext ctx;
        auto stream = stub->AppendStream(&ctx);
        std::thread reader([&] {
          v1::AppendResult r;
          while (stream->Read(&r)) errors += r.code() != 0;
        });
        for (const auto& se : envs[t]) {
          v1::AppendRequest req;
          req.set_trial_id(trial);
          *req.mutable_signed_envelope() = se;
          stream->Write(req);
        }
        stream->WritesDone();
        reader.join();
        if (!stream->Finish().ok()) ++errors;
      });
    }
    for (auto& th : threads) th.join();
    Result r{kThreads * kEach / absl::ToDoubleSeconds(absl::Now() - start), 0, 0, errors.load()};
    report("AppendStream, 4 streams", r, before);
  }
  // The verifying client library (receipt + consistency per append).
  {
    constexpr int kThreads = 16, kEach = 125;
    auto envs = presign(kThreads, kEach);
    client::ChannelOptions co;
    co.target = (*d)->target();
    co.plaintext = true;
    co.connections = 4;
    auto channels = client::MakeChannels(co);
    auto c = client::LedgerClient::Create(
        *channels, trial, note::FormatVerifierKey("bench.test/" + trial, key->public_key));
    if (!c.ok()) return 1;
    std::vector<std::vector<double>> lat(kThreads);
    std::atomic<int> errors{0};
    auto before = CommitCounters((*d)->metrics_port());
    absl::Time start = absl::Now();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (const auto& se : envs[t]) {
          absl::Time t0 = absl::Now();
          if (!(*c)->Append(se).ok()) ++errors;
          lat[t].push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
        }
      });
    }
    for (auto& th : threads) th.join();
    std::vector<double> all;
    for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
    Result r{kThreads * kEach / absl::ToDoubleSeconds(absl::Now() - start),
             Percentile(all, 0.5), Percentile(all, 0.99), errors.load()};
    report("LedgerClient::Append (verified), 16 threads", r, before);
  }
  (*d)->Stop(SIGTERM);
  return 0;
}

}  // namespace
}  // namespace trialog::testing

int main() { return trialog::testing::Main(); }
