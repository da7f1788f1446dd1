#include "server/witnessing.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/note/keys.h"
#include "core/util/thread_name.h"
#include "server/config.h"
#include "witness/policy.h"

namespace trialog::server {
namespace {

// Writes `data` to `path` via a temporary file, fsync and rename, then
// fsyncs the directory.
absl::Status WriteFileDurably(const std::string& dir, const std::string& path,
                              absl::string_view data) {
  const std::string tmp = absl::StrCat(path, ".tmp");
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot create ", tmp));
  absl::string_view rest = data;
  while (!rest.empty()) {
    const ssize_t n = write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      close(fd);
      return absl::ErrnoToStatus(err, absl::StrCat("cannot write ", tmp));
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot fsync ", tmp));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot rename ", tmp));
  }
  const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return absl::OkStatus();
}

}  // namespace

std::string CosignedCheckpointPath(absl::string_view state_dir, absl::string_view trial_id) {
  return absl::StrCat(state_dir, "/", trial_id, ".cosigned");
}

absl::StatusOr<std::unique_ptr<Witnessing>> Witnessing::Start(WitnessingOptions options,
                                                              const LedgerSet* ledgers) {
  std::unique_ptr<Witnessing> w(new Witnessing());
  witness::WitnessPolicy policy;
  for (const std::string& spec : options.witnesses) {
    absl::StatusOr<witness::WitnessEndpoint> e = witness::ParseWitnessEndpoint(spec);
    if (!e.ok()) return e.status();
    policy.witnesses.push_back(e->key);
    w->endpoints_.push_back(*std::move(e));
  }
  if (w->endpoints_.empty()) return absl::InvalidArgumentError("witnessing without witnesses");
  w->quorum_ = options.quorum == 0 ? w->endpoints_.size() : options.quorum;
  policy.quorum = w->quorum_;
  if (absl::Status s = witness::CheckWitnessPolicy(policy); !s.ok()) return s;
  w->policy_ = std::move(policy);
  w->options_ = std::move(options);
  w->ledgers_ = ledgers;
  if (!w->options_.state_dir.empty()) {
    if (mkdir(w->options_.state_dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::ErrnoToStatus(errno,
                                 absl::StrCat("cannot create ", w->options_.state_dir));
    }
    w->LoadPersisted();
  }
  w->poller_ = std::thread([p = w.get()] {
    NameThisThread("tl-witnessing");
    p->Poll();
  });
  return w;
}

Witnessing::~Witnessing() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (poller_.joinable()) poller_.join();
  std::map<std::string, std::unique_ptr<witness::CheckpointSubmitter>, std::less<>> submitters;
  {
    absl::MutexLock lock(&mu_);
    submitters.swap(submitters_);
  }
  submitters.clear();  // cancels requests in flight
}

void Witnessing::Poll() {
  while (true) {
    PollOnce();
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stop_), options_.poll_interval)) return;
  }
}

void Witnessing::PollOnce() {
  for (const std::shared_ptr<TrialLedger>& t : ledgers_->List()) {
    absl::StatusOr<CheckpointView> latest = t->LatestCheckpoint();
    if (!latest.ok()) continue;  // no genesis yet
    witness::CheckpointSubmitter* submitter = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      auto seen = offered_size_.find(t->trial_id());
      if (seen != offered_size_.end() && seen->second >= latest->size) continue;
      auto it = submitters_.find(t->trial_id());
      if (it == submitters_.end()) {
        absl::StatusOr<note::Verifier> key = note::ParseVerifierKey(t->verifier_key());
        if (!key.ok()) continue;
        witness::SubmitterOptions so;
        so.ledger_key = *key;
        so.witnesses = endpoints_;
        so.quorum = quorum_;
        so.request_timeout = options_.request_timeout;
        std::weak_ptr<TrialLedger> weak = t;
        so.prove = [weak](uint64_t old_size,
                          uint64_t new_size) -> absl::StatusOr<std::vector<std::string>> {
          std::shared_ptr<TrialLedger> ledger = weak.lock();
          if (!ledger) return absl::UnavailableError("trial ledger closed");
          absl::StatusOr<v1::ConsistencyProof> proof = ledger->ConsistencyProof(old_size, new_size);
          if (!proof.ok()) return proof.status();
          return std::vector<std::string>(proof->hashes().begin(), proof->hashes().end());
        };
        const std::string trial = t->trial_id();
        auto log = options_.log;
        so.log = [log, trial](absl::string_view line) {
          if (log) log(absl::StrCat("trial ", trial, ": ", line));
        };
        so.on_cosigned = [this, trial](const std::string& note, uint64_t size) {
          Record(trial, note, size);
        };
        absl::StatusOr<std::unique_ptr<witness::CheckpointSubmitter>> s =
            witness::CheckpointSubmitter::Start(std::move(so));
        if (!s.ok()) {
          if (options_.log) options_.log(absl::StrCat("trial ", trial, ": ", s.status().message()));
          continue;
        }
        it = submitters_.emplace(trial, *std::move(s)).first;
      }
      submitter = it->second.get();
      offered_size_[t->trial_id()] = latest->size;
    }
    // Submitters are only destroyed by ~Witnessing after the poller stops.
    absl::Status offered = submitter->Offer(latest->note);
    if (!offered.ok() && options_.log) {
      options_.log(absl::StrCat("trial ", t->trial_id(), ": own checkpoint refused: ",
                                offered.message()));
    }
  }
}

void Witnessing::Record(const std::string& trial_id, const std::string& note, uint64_t size) {
  absl::StatusOr<CheckpointView> view = ParseOwnCheckpoint(note);
  if (!view.ok()) return;
  {
    absl::MutexLock lock(&mu_);
    auto it = cosigned_.find(trial_id);
    if (it != cosigned_.end() && it->second.size >= size) return;
    cosigned_[trial_id] = *view;
  }
  if (options_.state_dir.empty()) return;
  absl::MutexLock lock(&file_mu_);
  {
    absl::MutexLock state_lock(&mu_);
    if (cosigned_[trial_id].size != size) return;  // a newer one was recorded meanwhile
  }
  absl::Status s = WriteFileDurably(options_.state_dir,
                                    CosignedCheckpointPath(options_.state_dir, trial_id), note);
  if (!s.ok() && options_.log) {
    options_.log(absl::StrCat("trial ", trial_id, ": cannot keep the cosigned checkpoint: ",
                              s.message()));
  }
}

void Witnessing::LoadPersisted() {
  for (const std::shared_ptr<TrialLedger>& t : ledgers_->List()) {
    const std::string path = CosignedCheckpointPath(options_.state_dir, t->trial_id());
    absl::StatusOr<std::string> note = ReadFile(path);
    if (!note.ok()) continue;  // none yet
    absl::StatusOr<note::Verifier> key = note::ParseVerifierKey(t->verifier_key());
    if (!key.ok()) continue;
    absl::StatusOr<witness::CosignedCheckpoint> ok =
        witness::OpenCosignedCheckpoint(*note, *key, policy_);
    if (!ok.ok()) {
      if (options_.log) {
        options_.log(absl::StrCat("trial ", t->trial_id(), ": ignoring ", path, ": ",
                                  ok.status().message()));
      }
      continue;
    }
    absl::StatusOr<CheckpointView> view = ParseOwnCheckpoint(*std::move(note));
    if (!view.ok()) continue;
    absl::MutexLock lock(&mu_);
    cosigned_[t->trial_id()] = *std::move(view);
  }
}

absl::StatusOr<CheckpointView> Witnessing::LatestCosigned(absl::string_view trial_id) const {
  {
    absl::MutexLock lock(&mu_);
    auto it = cosigned_.find(trial_id);
    if (it != cosigned_.end()) return it->second;
  }
  absl::StatusOr<std::shared_ptr<TrialLedger>> t = ledgers_->Find(trial_id);
  if (!t.ok()) return t.status();
  return absl::FailedPreconditionError(absl::StrCat(
      "no checkpoint of trial ", trial_id, " is cosigned by ", quorum_, " witnesses yet"));
}

std::string Witnessing::RenderMetrics() const {
  std::string witness_size, failures, cosigned;
  absl::MutexLock lock(&mu_);
  for (const auto& [trial, submitter] : submitters_) {
    for (const auto& st : submitter->witness_states()) {
      const std::string label =
          absl::StrCat("{trial=\"", trial, "\",witness=\"", st.name, "\"} ");
      absl::StrAppend(&witness_size, "trialog_witness_size", label, st.size, "\n");
      absl::StrAppend(&failures, "trialog_witness_failures_total", label, st.failures, "\n");
    }
    auto it = cosigned_.find(trial);
    absl::StrAppend(&cosigned, "trialog_cosigned_checkpoint_size{trial=\"", trial, "\"} ",
                    it == cosigned_.end() ? 0 : it->second.size, "\n");
  }
  return absl::StrCat(
      "# HELP trialog_witness_size Size of the last checkpoint each witness cosigned (as last "
      "learnt).\n# TYPE trialog_witness_size gauge\n",
      witness_size,
      "# HELP trialog_witness_failures_total Failed submissions to each witness.\n"
      "# TYPE trialog_witness_failures_total counter\n",
      failures,
      "# HELP trialog_cosigned_checkpoint_size Size of the newest checkpoint cosigned by the "
      "witness quorum.\n# TYPE trialog_cosigned_checkpoint_size gauge\n",
      cosigned);
}

}  // namespace trialog::server
