#include "server/ledger_set.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/ledger/entry.h"
#include "core/util/status_macros.h"

namespace trialog::server {

absl::Status CheckTrialId(absl::string_view trial_id) {
  if (trial_id.empty()) return absl::InvalidArgumentError("trial_id is empty");
  if (trial_id.size() > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("trial_id is ", trial_id.size(), " bytes; the limit is 64"));
  }
  if (trial_id == "." || trial_id == "..") {
    return absl::InvalidArgumentError(absl::StrCat("trial_id \"", trial_id, "\" is reserved"));
  }
  for (char c : trial_id) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
          c == '-')) {
      return absl::InvalidArgumentError(absl::StrCat(
          "trial_id \"", absl::CHexEscape(trial_id), "\" has a character outside [A-Za-z0-9._-]"));
    }
  }
  return absl::OkStatus();
}

std::string OriginFor(absl::string_view ledger_name, absl::string_view trial_id) {
  return absl::StrCat(ledger_name, "/", trial_id);
}

std::string VerifierKeyFor(absl::string_view ledger_name, absl::string_view trial_id,
                           absl::string_view ledger_public_key) {
  return note::FormatVerifierKey(OriginFor(ledger_name, trial_id), ledger_public_key);
}

std::string LedgerSet::TrialDir(absl::string_view trial_id) const {
  return (std::filesystem::path(options_.data_dir) / "trials" / std::string(trial_id)).string();
}

absl::StatusOr<std::unique_ptr<TrialLedger>> LedgerSet::OpenTrial(const std::string& trial_id,
                                                                  bool create) const {
  TrialLedgerOptions o;
  o.dir = TrialDir(trial_id);
  o.trial_id = trial_id;
  o.origin = OriginFor(options_.ledger_name, trial_id);
  o.ledger_key = options_.ledger_key;
  o.machines = options_.machines;
  o.sync = options_.sync;
  o.max_batch = options_.max_sequencer_batch;
  o.min_free_bytes = options_.min_free_bytes;
  o.create_if_missing = create;
  o.use_snapshot = options_.use_snapshot;
  o.snapshot_every_entries = options_.snapshot_every_entries;
  o.snapshot_interval = options_.snapshot_interval;
  return TrialLedger::Open(std::move(o));
}

absl::StatusOr<std::unique_ptr<LedgerSet>> LedgerSet::Open(LedgerSetOptions options) {
  if (options.ledger_name.empty()) return absl::InvalidArgumentError("ledger name is empty");
  std::unique_ptr<LedgerSet> set(new LedgerSet(std::move(options)));
  std::error_code ec;
  const std::filesystem::path trials = std::filesystem::path(set->options_.data_dir) / "trials";
  std::filesystem::create_directories(trials, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", trials.string(), ": ", ec.message()));
  }
  for (const auto& dirent : std::filesystem::directory_iterator(trials, ec)) {
    if (!dirent.is_directory()) continue;
    std::string trial_id = dirent.path().filename().string();
    if (!CheckTrialId(trial_id).ok()) continue;  // not ours
    absl::StatusOr<std::unique_ptr<TrialLedger>> t = set->OpenTrial(trial_id, false);
    if (!t.ok()) {
      return absl::Status(t.status().code(), absl::StrCat("opening trial ", trial_id, ": ",
                                                          t.status().message()));
    }
    absl::MutexLock lock(&set->mu_);
    set->trials_.emplace(trial_id, std::shared_ptr<TrialLedger>(std::move(*t)));
  }
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot list ", trials.string(), ": ", ec.message()));
  }
  return set;
}

LedgerSet::~LedgerSet() { CloseAll().IgnoreError(); }

absl::StatusOr<std::shared_ptr<TrialLedger>> LedgerSet::Find(absl::string_view trial_id) const {
  absl::MutexLock lock(&mu_);
  auto it = trials_.find(trial_id);
  if (it == trials_.end()) {
    return absl::NotFoundError(absl::StrCat(
        "trial \"", absl::CHexEscape(trial_id), "\" is not served here",
        options_.accept_new_trials ? " (append its genesis to create it)"
                                   : " and this server does not accept new trials"));
  }
  return it->second;
}

std::vector<std::shared_ptr<TrialLedger>> LedgerSet::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<TrialLedger>> out;
  for (const auto& [id, t] : trials_) out.push_back(t);
  return out;
}

absl::StatusOr<v1::AppendResponse> LedgerSet::CreateWithGenesis(absl::string_view trial_id,
                                                                v1::SignedEnvelope genesis) {
  if (!options_.accept_new_trials) {
    return absl::NotFoundError(absl::StrCat("trial \"", absl::CHexEscape(trial_id),
                                            "\" is not served here and this server does not "
                                            "accept new trials"));
  }
  TRIALOG_RETURN_IF_ERROR(CheckTrialId(trial_id));
  absl::MutexLock create_lock(&create_mu_);
  if (absl::StatusOr<std::shared_ptr<TrialLedger>> existing = Find(trial_id); existing.ok()) {
    std::shared_ptr<TrialLedger> t = *existing;
    if (absl::StatusOr<v1::AppendResponse> repeat = t->FindRepeat(genesis);
        repeat.ok() || repeat.status().code() != absl::StatusCode::kNotFound) {
      return repeat;
    }
    TRIALOG_ASSIGN_OR_RETURN(ledger::AdmittedEnvelope admitted, t->Admit(std::move(genesis)));
    return t->Append(std::move(admitted));
  }
  const std::string id(trial_id);
  std::error_code ec;
  if (std::filesystem::exists(TrialDir(id), ec)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "directory ", TrialDir(id), " exists but is not an open trial; remove it or restart"));
  }
  absl::StatusOr<std::unique_ptr<TrialLedger>> opened = OpenTrial(id, true);
  if (!opened.ok()) {
    std::filesystem::remove_all(TrialDir(id), ec);
    return absl::UnavailableError(
        absl::StrCat("cannot create trial ", id, ": ", opened.status().message()));
  }
  std::shared_ptr<TrialLedger> t(std::move(*opened));
  absl::StatusOr<v1::AppendResponse> result = [&]() -> absl::StatusOr<v1::AppendResponse> {
    TRIALOG_ASSIGN_OR_RETURN(ledger::AdmittedEnvelope admitted, t->Admit(std::move(genesis)));
    if (admitted.envelope.event().kind_case() != v1::Event::kGenesis) {
      return absl::NotFoundError(absl::StrCat("trial \"", id,
                                              "\" is not served here; only a genesis creates it"));
    }
    return t->Append(std::move(admitted));
  }();
  if (!result.ok()) {
    t->Close().IgnoreError();
    t.reset();
    std::filesystem::remove_all(TrialDir(id), ec);
    return result;
  }
  absl::MutexLock lock(&mu_);
  trials_.emplace(id, std::move(t));
  return result;
}

absl::Status LedgerSet::CloseAll() {
  absl::Status first;
  for (const std::shared_ptr<TrialLedger>& t : List()) {
    absl::Status s = t->Close();
    if (first.ok() && !s.ok()) first = s;
  }
  return first;
}

}  // namespace trialog::server
