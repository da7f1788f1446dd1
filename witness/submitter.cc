#include "witness/submitter.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/note/checkpoint.h"
#include "core/note/note.h"
#include "core/note/text.h"
#include "core/util/bytes.h"
#include "witness/policy.h"

namespace trialog::witness {

absl::StatusOr<WitnessEndpoint> ParseWitnessEndpoint(absl::string_view spec) {
  const size_t at = spec.find('@');
  if (at == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "witness ", note::QuoteForError(spec, 120),
        " is not COSIGNER_VKEY@URL (e.g. w1.example+1a2b3c4d+BA...@http://w1.example:7380)"));
  }
  absl::StatusOr<note::Cosigner> key = note::ParseCosignerKey(spec.substr(0, at));
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("witness ", note::QuoteForError(spec, 120),
                                                   ": bad cosigner key: ", key.status().message()));
  }
  const absl::string_view url = spec.substr(at + 1);
  if (!absl::StartsWith(url, "http://") && !absl::StartsWith(url, "https://")) {
    return absl::InvalidArgumentError(absl::StrCat("witness ", note::QuoteForError(spec, 120),
                                                   ": URL must start with http:// or https://"));
  }
  return WitnessEndpoint{std::string(url), *std::move(key)};
}

absl::StatusOr<std::unique_ptr<CheckpointSubmitter>> CheckpointSubmitter::Start(
    SubmitterOptions options) {
  if (options.witnesses.empty()) return absl::InvalidArgumentError("no witnesses to submit to");
  if (options.quorum < 1 || options.quorum > options.witnesses.size()) {
    return absl::InvalidArgumentError(absl::StrCat("witness quorum ", options.quorum,
                                                   " is not between 1 and the ",
                                                   options.witnesses.size(), " witnesses"));
  }
  if (!options.prove) return absl::InvalidArgumentError("no consistency proof source");
  WitnessPolicy policy;
  for (const WitnessEndpoint& w : options.witnesses) policy.witnesses.push_back(w.key);
  if (absl::Status s = CheckWitnessPolicy(policy); !s.ok()) return s;
  std::unique_ptr<CheckpointSubmitter> s(new CheckpointSubmitter(std::move(options)));
  for (const WitnessEndpoint& endpoint : s->options_.witnesses) {
    auto w = std::make_unique<Witness>();
    w->endpoint = endpoint;
    absl::StatusOr<std::unique_ptr<WitnessClient>> client =
        WitnessClient::Create(endpoint.url, s->options_.request_timeout);
    if (!client.ok()) return client.status();
    w->client = *std::move(client);
    w->state.name = endpoint.key.name;
    w->state.url = endpoint.url;
    s->witnesses_.push_back(std::move(w));
  }
  {
    absl::MutexLock lock(&s->mu_);
    s->round_lines_.assign(s->witnesses_.size(), "");
  }
  for (size_t i = 0; i < s->witnesses_.size(); ++i) {
    s->witnesses_[i]->thread = std::thread([p = s.get(), i] { p->Work(i); });
  }
  s->coordinator_ = std::thread([p = s.get()] { p->Coordinate(); });
  return s;
}

CheckpointSubmitter::~CheckpointSubmitter() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  for (auto& w : witnesses_) w->client->Cancel();
  if (coordinator_.joinable()) coordinator_.join();
  for (auto& w : witnesses_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

void CheckpointSubmitter::Log(absl::string_view line) const {
  if (options_.log) options_.log(line);
}

absl::Status CheckpointSubmitter::Offer(const std::string& signed_note) {
  absl::StatusOr<note::Checkpoint> checkpoint =
      note::OpenCheckpoint(signed_note, options_.ledger_key);
  if (!checkpoint.ok()) return checkpoint.status();
  Target target;
  target.note = signed_note;
  target.text = note::FormatCheckpoint(*checkpoint);
  target.size = checkpoint->size;
  absl::MutexLock lock(&mu_);
  if (!offered_.note.empty() && target.size <= offered_.size) return absl::OkStatus();
  offered_ = std::move(target);
  return absl::OkStatus();
}

absl::StatusOr<std::string> CheckpointSubmitter::LatestCosigned() const {
  absl::MutexLock lock(&mu_);
  if (!has_cosigned_) {
    return absl::NotFoundError(absl::StrCat("no checkpoint of ", options_.ledger_key.name,
                                            " is cosigned by ", options_.quorum,
                                            " witnesses yet"));
  }
  return cosigned_note_;
}

uint64_t CheckpointSubmitter::cosigned_size() const {
  absl::MutexLock lock(&mu_);
  return cosigned_size_;
}

bool CheckpointSubmitter::WaitForCosigned(uint64_t size, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto done = [this, size]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stop_ || (has_cosigned_ && cosigned_size_ >= size);
  };
  mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  return has_cosigned_ && cosigned_size_ >= size;
}

std::vector<CheckpointSubmitter::WitnessState> CheckpointSubmitter::witness_states() const {
  absl::MutexLock lock(&mu_);
  std::vector<WitnessState> out;
  for (const auto& w : witnesses_) out.push_back(w->state);
  return out;
}

absl::StatusOr<std::string> CheckpointSubmitter::SubmitTo(size_t i, const Target& target,
                                                          uint64_t old_size, bool size_known,
                                                          uint64_t* learnt_size) {
  Witness& w = *witnesses_[i];
  const std::string& name = w.endpoint.key.name;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (old_size > target.size) {
      // This ledger's key signed a larger checkpoint than this ledger has:
      // never benign (the witness cosigns nothing else).
      absl::Status behind = absl::FailedPreconditionError(absl::StrCat(
          "witness ", name, " has cosigned size ", old_size, ", larger than the checkpoint size ",
          target.size, ": the ledger is behind what this witness saw (restored from an old "
          "backup, or forked)"));
      Log(absl::StrCat("FORK? ", behind.message()));
      return behind;
    }
    AddCheckpointRequest request;
    request.old_size = old_size;
    request.checkpoint = target.note;
    if (old_size > 0 && old_size < target.size) {
      absl::StatusOr<std::vector<std::string>> proof = options_.prove(old_size, target.size);
      if (!proof.ok()) {
        return absl::InternalError(absl::StrCat("no consistency proof ", old_size, " -> ",
                                                target.size, ": ", proof.status().message()));
      }
      request.proof = *std::move(proof);
    }
    absl::StatusOr<std::vector<std::string>> lines = w.client->AddCheckpoint(request);
    if (lines.ok()) {
      std::string cosigned = target.note;
      for (const std::string& l : *lines) cosigned += l;
      absl::StatusOr<note::OpenedNote> opened = note::OpenNote(cosigned, {options_.ledger_key});
      absl::StatusOr<std::vector<note::Cosignature>> valid =
          opened.ok() ? note::VerifyCosignatures(*opened, {w.endpoint.key})
                      : absl::StatusOr<std::vector<note::Cosignature>>(opened.status());
      if (!valid.ok() || valid->empty()) {
        return absl::UnauthenticatedError(absl::StrCat(
            "witness ", name, " answered without a valid cosignature by its configured key",
            valid.ok() ? "" : absl::StrCat(": ", valid.status().message())));
      }
      *learnt_size = target.size;
      std::vector<std::string> mine = CosignatureLinesBy(cosigned, w.endpoint.key);
      return mine.front();
    }
    std::optional<uint64_t> conflict = ConflictSize(lines.status());
    if (!conflict) {
      if (lines.status().code() == absl::StatusCode::kFailedPrecondition) {
        Log(absl::StrCat("FORK? witness ", name, " refused the consistency proof from its size ",
                         old_size, " to ", target.size, ": ", lines.status().message()));
      }
      return lines.status();
    }
    *learnt_size = *conflict;
    if (size_known && *conflict == old_size) {
      const std::string why = absl::StrCat(
          "witness ", name, " holds a different checkpoint of size ", old_size,
          " than this ledger's history: possible fork (409 Conflict again)");
      Log(absl::StrCat("FORK? ", why));
      return absl::AbortedError(why);
    }
    old_size = *conflict;  // learnt the witness's size: retry with it
    size_known = true;
  }
  return absl::AbortedError(absl::StrCat("witness ", name, " keeps changing its size"));
}

size_t CheckpointSubmitter::RoundCount() const {
  size_t count = 0;
  for (const std::string& line : round_lines_) count += line.empty() ? 0 : 1;
  return count;
}

bool CheckpointSubmitter::MaybeAdvanceRound() {
  if (offered_.note.empty() || offered_.text == round_.text) return false;
  if (!round_.note.empty()) {
    if (absl::Now() < round_started_ + options_.min_interval) return false;
    bool all_answered = true;
    for (const auto& w : witnesses_) {
      all_answered &= !w->busy && w->attempted_text == round_.text;
    }
    if (RoundCount() < options_.quorum && !all_answered) return false;
  }
  round_ = offered_;
  round_started_ = absl::Now();
  round_lines_.assign(witnesses_.size(), "");
  return true;
}

// Starts rounds: at once on an offer when allowed, else when the interval
// runs out (checked every 20 ms while an offer waits).
void CheckpointSubmitter::Coordinate() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    MaybeAdvanceRound();
    auto pending = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stop_ || (!offered_.note.empty() && offered_.text != round_.text);
    };
    if (pending()) {
      mu_.AwaitWithTimeout(absl::Condition(&stop_), absl::Milliseconds(20));
    } else {
      mu_.Await(absl::Condition(&pending));
    }
  }
}

void CheckpointSubmitter::Work(size_t i) {
  Witness& w = *witnesses_[i];
  while (true) {
    Target target;
    bool size_known = false;
    uint64_t old_size = 0;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        if (stop_) return true;
        if (round_.note.empty() || !round_lines_[i].empty()) return false;
        return w.attempted_text != round_.text || w.retry_at <= absl::Now();
      };
      // Retries fall due with time: re-check at least every 50 ms.
      while (!ready()) mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(50));
      if (stop_) return;
      if (w.attempted_text != round_.text) {
        // A new round: wait out a backoff still running from a failure.
        if (w.retry_at > absl::Now()) {
          mu_.AwaitWithDeadline(absl::Condition(&stop_), w.retry_at);
          if (stop_) return;
          continue;
        }
      }
      target = round_;
      size_known = w.state.size_known;
      old_size = size_known ? w.state.size : 0;
      w.busy = true;
    }

    uint64_t learnt = ~uint64_t{0};
    absl::StatusOr<std::string> line = SubmitTo(i, target, old_size, size_known, &learnt);

    std::string newly_cosigned;
    uint64_t newly_size = 0;
    {
      absl::MutexLock lock(&mu_);
      w.busy = false;
      w.attempted_text = target.text;
      if (learnt != ~uint64_t{0}) {
        w.state.size_known = true;
        w.state.size = learnt;
      }
      if (line.ok()) {
        ++w.state.cosignatures;
        w.state.last_error.clear();
        w.backoff = absl::ZeroDuration();
        w.retry_at = absl::InfinitePast();
        if (round_.text == target.text) {
          round_lines_[i] = *line;
          if (RoundCount() >= options_.quorum &&
              (!has_cosigned_ || target.size > cosigned_size_)) {
            cosigned_note_ = target.note;
            for (const std::string& l : round_lines_) cosigned_note_ += l;
            cosigned_size_ = target.size;
            has_cosigned_ = true;
            newly_cosigned = cosigned_note_;
            newly_size = target.size;
          }
        }
      } else {
        ++w.state.failures;
        w.state.last_error = std::string(line.status().message());
        w.backoff = w.backoff == absl::ZeroDuration() ? options_.retry_min
                                                      : std::min(w.backoff * 2, options_.retry_max);
        w.retry_at = absl::Now() + w.backoff;
        if (line.status().code() != absl::StatusCode::kCancelled) {
          Log(absl::StrCat("witness ", w.endpoint.key.name, " (", w.endpoint.url,
                           ") did not cosign size ", target.size, ": ", line.status().message(),
                           "; retry in ", absl::FormatDuration(w.backoff)));
        }
      }
    }
    if (!newly_cosigned.empty() && options_.on_cosigned) {
      options_.on_cosigned(newly_cosigned, newly_size);
    }
  }
}

}  // namespace trialog::witness
