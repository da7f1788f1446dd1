// Latency of TrialStateService reads on the real trialogd (a tool, not a
// test): starts trialogd in a temporary directory, runs the synthetic trial
// (tests/server/synthetic_driver.h) with N subjects through the client,
// then times GetSummary, GetSubject and GetSubjectHistory (current state,
// and as of the middle entry) over loopback, sequentially.
//
// Usage: trial_state_bench [subjects=20] [repetitions=50]
// $TRIALOG_TRIALOGD runs another trialogd binary (to compare builds).
// Prints median and 90th percentile per call, in microseconds.

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/note/keys.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "tests/server/synthetic_driver.h"
#include "tests/server/test_support.h"
#include "trialog/v1/trial_service.grpc.pb.h"

namespace trialog::testing {
namespace {

void Report(const char* what, std::vector<double> us) {
  std::sort(us.begin(), us.end());
  std::printf("%-40s median %9.0f us   p90 %9.0f us   (n=%zu)\n", what, us[us.size() / 2],
              us[us.size() * 9 / 10], us.size());
}

std::vector<double> Time(int n, const std::function<bool()>& call) {
  std::vector<double> us;
  for (int i = 0; i < n; ++i) {
    absl::Time start = absl::Now();
    if (!call()) {
      std::fprintf(stderr, "call failed\n");
      std::exit(1);
    }
    us.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
  }
  return us;
}

int Main(int argc, char** argv) {
  const int subjects = argc > 1 ? std::atoi(argv[1]) : 20;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 50;
  TempDir dir;
  absl::StatusOr<LedgerKey> key = MakeLedgerKey(dir, "trialog.bench");
  if (!key.ok()) return std::fprintf(stderr, "%s\n", key.status().ToString().c_str()), 1;
  absl::StatusOr<std::unique_ptr<Trialogd>> server = Trialogd::Start(
      dir, {"--data_dir=" + dir.File("data"), "--listen=127.0.0.1:0", "--plaintext",
            "--accept_new_trials", "--sync=false", "--ledger_key_file=" + key->key_file,
            "--ledger_key_passphrase_file=" + key->passphrase_file});
  if (!server.ok()) return std::fprintf(stderr, "%s\n", server.status().ToString().c_str()), 1;
  const std::string trial = "BENCH-1";
  const std::string vkey =
      note::FormatVerifierKey(absl::StrCat(key->name, "/", trial), key->public_key);
  absl::Time start = absl::Now();
  absl::StatusOr<SyntheticRun> run =
      RunSyntheticTrial((*server)->target(), trial, vkey, 42, subjects);
  if (!run.ok()) return std::fprintf(stderr, "%s\n", run.status().ToString().c_str()), 1;
  std::printf("synthetic trial: %d subjects, %llu entries, appended in %.1f s\n", subjects,
              static_cast<unsigned long long>(run->entries),
              absl::ToDoubleSeconds(absl::Now() - start));

  auto stub = v1::TrialStateService::NewStub(
      grpc::CreateChannel((*server)->target(), grpc::InsecureChannelCredentials()));
  std::string subject;
  {
    grpc::ClientContext ctx;
    v1::ListSubjectsRequest req;
    req.set_trial_id(trial);
    v1::ListSubjectsResponse resp;
    if (!stub->ListSubjects(&ctx, req, &resp).ok() || resp.subject_ids().empty()) return 1;
    subject = resp.subject_ids(0);
  }
  uint64_t shift = 0;  // > 0: a different as-of index per call (no cached state)
  auto summary = [&](bool as_of_middle) {
    grpc::ClientContext ctx;
    v1::GetSummaryRequest req;
    req.set_trial_id(trial);
    if (as_of_middle) req.mutable_as_of()->set_as_of_index(run->entries / 2 + shift);
    v1::GetSummaryResponse resp;
    return stub->GetSummary(&ctx, req, &resp).ok();
  };
  auto get_subject = [&] {
    grpc::ClientContext ctx;
    v1::GetSubjectRequest req;
    req.set_trial_id(trial);
    req.set_subject_id(subject);
    v1::GetSubjectResponse resp;
    return stub->GetSubject(&ctx, req, &resp).ok();
  };
  Time(3, [&] { return summary(false); });  // warm up
  Report("GetSummary (current)", Time(reps, [&] { return summary(false); }));
  Report("GetSubject (current)", Time(reps, get_subject));
  Report("GetSummary (as of the middle entry)", Time(reps, [&] { return summary(true); }));
  Report("GetSummary (as of a new index each call)", Time(reps, [&] {
           ++shift;
           return summary(true);
         }));
  auto history = [&](grpc::StatusCode* code) {
    grpc::ClientContext ctx;
    v1::GetSubjectHistoryRequest req;
    req.set_trial_id(trial);
    req.set_subject_id(subject);
    req.set_page_size(1000);
    v1::GetSubjectHistoryResponse resp;
    grpc::Status s = stub->GetSubjectHistory(&ctx, req, &resp);
    if (code != nullptr) *code = s.error_code();
    return s.ok();
  };
  grpc::StatusCode code = grpc::StatusCode::OK;
  history(&code);
  if (code == grpc::StatusCode::UNIMPLEMENTED) {
    std::printf("GetSubjectHistory: not served by this trialogd\n");
  } else {
    Report("GetSubjectHistory (current, one page)", Time(reps, [&] { return history(nullptr); }));
  }

  // Readers against appenders: the same trial appended again (a second
  // trial id) while 2 threads call GetSummary on it in a loop; every read
  // after an append takes a fresh view under the ledger's state lock.
  {
    const std::string trial2 = "BENCH-2";
    const std::string vkey2 =
        note::FormatVerifierKey(absl::StrCat(key->name, "/", trial2), key->public_key);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> reads{0}, read_errors{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 2; ++t) {
      readers.emplace_back([&] {
        auto s = v1::TrialStateService::NewStub(
            grpc::CreateChannel((*server)->target(), grpc::InsecureChannelCredentials()));
        while (!stop.load()) {
          grpc::ClientContext ctx;
          v1::GetSummaryRequest req;
          req.set_trial_id(trial2);
          v1::GetSummaryResponse resp;
          if (s->GetSummary(&ctx, req, &resp).ok()) {
            ++reads;
          } else {
            ++read_errors;  // NOT_FOUND until the genesis is in
            absl::SleepFor(absl::Milliseconds(1));
          }
        }
      });
    }
    absl::Time t0 = absl::Now();
    absl::StatusOr<SyntheticRun> run2 =
        RunSyntheticTrial((*server)->target(), trial2, vkey2, 42, subjects);
    const double seconds = absl::ToDoubleSeconds(absl::Now() - t0);
    stop = true;
    for (auto& r : readers) r.join();
    if (!run2.ok()) return std::fprintf(stderr, "%s\n", run2.status().ToString().c_str()), 1;
    std::printf("same trial appended again with 2 GetSummary readers looping: %.1f s "
                "(%llu reads answered meanwhile)\n",
                seconds, static_cast<unsigned long long>(reads.load()));
  }
  if ((*server)->Stop(SIGTERM) != 0) return 1;
  return 0;
}

}  // namespace
}  // namespace trialog::testing

int main(int argc, char** argv) { return trialog::testing::Main(argc, argv); }
