#include "tools/witness/witness.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/merkle/merkle.h"
#include "core/note/checkpoint.h"
#include "core/note/cosignature.h"
#include "core/note/note.h"
#include "core/note/text.h"
#include "core/util/bytes.h"
#include "core/util/status_macros.h"

namespace trialog::witness {
namespace {

uint64_t SystemClock() {
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  return now < 0 ? 0 : static_cast<uint64_t>(now);
}

// "— name base64(key id || signature)\n" (C2SP signed-note).
std::string SignatureLine(const note::NoteSignature& sig) {
  std::string raw = EncodeBigEndian64(sig.key_id).substr(4);
  raw += sig.signature;
  return absl::StrCat("\xE2\x80\x94 ", sig.name, " ", Base64Encode(raw), "\n");
}

absl::Status CheckLogConfig(const LogConfig& log) {
  if (log.origin.empty()) return absl::InvalidArgumentError("a witnessed log has an empty origin");
  if (log.origin.find('\n') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("origin ", note::QuoteForError(log.origin), " contains a newline"));
  }
  if (absl::Status s = note::CheckNoteChars(log.origin); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("origin ", note::QuoteForError(log.origin), ": ", s.message()));
  }
  if (log.keys.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("log ", note::QuoteForError(log.origin), " has no verifier key"));
  }
  for (const note::Verifier& v : log.keys) {
    if (absl::Status s = note::CheckKeyName(v.name); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("a key of log ", log.origin, " has a bad name: ", s.message()));
    }
    if (v.public_key.size() != crypto::kPublicKeySize) {
      return absl::InvalidArgumentError(
          absl::StrCat("key ", v.name, " of log ", log.origin, " is not 32 bytes"));
    }
    if (v.key_id != note::KeyId(v.name, v.public_key)) {
      return absl::InvalidArgumentError(
          absl::StrCat("key ", v.name, " of log ", log.origin, " has a wrong key id"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

Witness::Witness(WitnessOptions options, const crypto::SigningKey& key,
                 std::unique_ptr<CheckpointStore> store)
    : name_(std::move(options.name)),
      key_(key),
      clock_(options.clock ? std::move(options.clock) : SystemClock),
      log_(std::move(options.log)),
      store_(std::move(store)) {
  for (LogConfig& config : options.logs) {
    auto state = std::make_unique<LogState>();
    std::string origin = config.origin;
    state->config = std::move(config);
    logs_.emplace(std::move(origin), std::move(state));
  }
}

absl::StatusOr<std::unique_ptr<Witness>> Witness::Open(WitnessOptions options,
                                                       const crypto::SigningKey& key) {
  if (absl::Status s = note::CheckKeyName(options.name); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("witness name: ", s.message()));
  }
  if (options.logs.empty()) return absl::InvalidArgumentError("the witness has no logs to witness");
  std::map<std::string, int, std::less<>> seen;
  for (const LogConfig& log : options.logs) {
    TRIALOG_RETURN_IF_ERROR(CheckLogConfig(log));
    if (seen[log.origin]++ > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("log origin ", note::QuoteForError(log.origin), " is configured twice"));
    }
  }
  TRIALOG_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointStore> store,
                           CheckpointStore::Open(options.dir));
  std::unique_ptr<Witness> witness(new Witness(std::move(options), key, std::move(store)));
  for (auto& [origin, state] : witness->logs_) {
    TRIALOG_RETURN_IF_ERROR(witness->LoadState(state.get()));
  }
  return witness;
}

absl::Status Witness::LoadState(LogState* log) {
  const std::string& origin = log->config.origin;
  const std::string path = store_->NotePath(origin);
  TRIALOG_ASSIGN_OR_RETURN(std::optional<std::string> stored, store_->Load(origin));
  if (!stored) return absl::OkStatus();
  absl::StatusOr<note::OpenedNote> opened = note::OpenNote(*stored, log->config.keys);
  if (!opened.ok()) {
    return absl::DataLossError(absl::StrCat(
        "stored checkpoint ", path, " of log ", origin,
        " does not verify under the log's configured keys (damaged, or the log's key was "
        "removed from the configuration): ",
        opened.status().message()));
  }
  absl::StatusOr<note::Checkpoint> checkpoint = note::ParseCheckpoint(opened->text);
  if (!checkpoint.ok()) {
    return absl::DataLossError(absl::StrCat("stored checkpoint ", path, " of log ", origin,
                                            " does not parse: ", checkpoint.status().message()));
  }
  if (checkpoint->origin != origin) {
    return absl::DataLossError(absl::StrCat("stored checkpoint ", path, " names origin ",
                                            note::QuoteForError(checkpoint->origin),
                                            ", not ", note::QuoteForError(origin)));
  }
  absl::MutexLock lock(&log->mu);
  log->size = checkpoint->size;
  log->root = checkpoint->root_hash;
  log->text = opened->text;
  return absl::OkStatus();
}

void Witness::Log(absl::string_view line) const {
  if (log_) log_(line);
}

std::string Witness::cosigner_key() const {
  return note::FormatCosignerKey(name_, key_.public_key());
}

std::vector<std::string> Witness::origins() const {
  std::vector<std::string> out;
  for (const auto& [origin, state] : logs_) out.push_back(origin);
  return out;
}

absl::StatusOr<std::string> Witness::AddCheckpoint(const AddCheckpointRequest& request,
                                                   absl::string_view raw_body) {
  const std::string& note_bytes = request.checkpoint;
  const size_t nl = note_bytes.find('\n');
  if (nl == std::string::npos) {
    return absl::InvalidArgumentError("checkpoint note has no origin line");
  }
  const absl::string_view origin = absl::string_view(note_bytes).substr(0, nl);
  auto it = logs_.find(origin);
  if (it == logs_.end()) {
    return absl::NotFoundError(absl::StrCat("unknown log: this witness does not witness origin ",
                                            note::QuoteForError(origin)));
  }
  LogState& log = *it->second;

  absl::StatusOr<note::OpenedNote> opened = note::OpenNote(note_bytes, log.config.keys);
  if (!opened.ok()) {
    if (opened.status().code() == absl::StatusCode::kUnauthenticated) {
      return absl::UnauthenticatedError(
          absl::StrCat("checkpoint of ", log.config.origin,
                       " carries no valid signature by a key this witness trusts for it: ",
                       opened.status().message()));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("malformed checkpoint note: ", opened.status().message()));
  }
  absl::StatusOr<note::Checkpoint> checkpoint = note::ParseCheckpoint(opened->text);
  if (!checkpoint.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed checkpoint: ", checkpoint.status().message()));
  }
  if (request.old_size > checkpoint->size) {
    return absl::InvalidArgumentError(absl::StrCat("old size ", request.old_size,
                                                   " is larger than the checkpoint size ",
                                                   checkpoint->size));
  }
  if (request.old_size == 0 && !request.proof.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "old size is 0 but the request has ", request.proof.size(),
        " consistency proof lines (the proof from size 0 must be empty)"));
  }

  absl::MutexLock lock(&log.mu);
  if (request.old_size != log.size) {
    return ConflictError(
        log.size, absl::StrCat("old size ", request.old_size, " is not the size ", log.size,
                               " of the latest checkpoint this witness cosigned for ",
                               log.config.origin));
  }
  // Evidence of misbehaviour: a validly signed checkpoint that cannot
  // extend the stored one.
  auto refuse = [&](absl::Status status) {
    std::string where;
    if (!raw_body.empty()) {
      absl::Status kept = store_->RecordEvidence(log.config.origin, raw_body);
      where = kept.ok() ? absl::StrCat("; request kept under ", store_->dir(), "/evidence/")
                        : absl::StrCat("; could not keep the request: ", kept.message());
    }
    Log(absl::StrCat("REFUSED ", log.config.origin, " size ", checkpoint->size, " (cosigned: ",
                     log.size, "): ", status.message(), where));
    return status;
  };
  if (request.old_size == checkpoint->size) {
    if (!log.text.empty() && checkpoint->root_hash != log.root) {
      return refuse(ConflictError(
          log.size, absl::StrCat("checkpoint of ", log.config.origin, " has size ", log.size,
                                 " like the latest cosigned one but a different root hash (",
                                 Base64Encode(checkpoint->root_hash), " vs ",
                                 Base64Encode(log.root), "): the log forked")));
    }
  } else if (request.old_size > 0) {
    absl::Status consistent = merkle::VerifyConsistency(
        request.old_size, checkpoint->size, request.proof, log.root, checkpoint->root_hash);
    if (!consistent.ok()) {
      return refuse(absl::FailedPreconditionError(absl::StrCat(
          "consistency proof from the cosigned size ", request.old_size, " to ",
          checkpoint->size, " does not verify: ", consistent.message())));
    }
  }

  TRIALOG_ASSIGN_OR_RETURN(
      std::string line, note::CosignCheckpoint(opened->text, name_, key_, clock_()));
  if (opened->text != log.text) {
    std::string stored = absl::StrCat(opened->text, "\n");
    for (const note::NoteSignature& sig : opened->verified) stored += SignatureLine(sig);
    stored += line;
    if (absl::Status s = store_->Store(log.config.origin, stored); !s.ok()) {
      Log(absl::StrCat("STORE FAILED ", log.config.origin, ": ", s.message()));
      return absl::UnavailableError(absl::StrCat(
          "witness cannot persist the checkpoint, so does not cosign it: ", s.message()));
    }
    log.size = checkpoint->size;
    log.root = checkpoint->root_hash;
    log.text = opened->text;
  }
  Log(absl::StrCat("COSIGNED ", log.config.origin, " size ", checkpoint->size, " root ",
                   Base64Encode(checkpoint->root_hash)));
  return line;
}

HttpReply Witness::HandleAddCheckpoint(absl::string_view body) {
  HttpReply reply;
  absl::StatusOr<std::string> line;
  absl::StatusOr<AddCheckpointRequest> request = ParseAddCheckpointRequest(body);
  if (request.ok()) {
    line = AddCheckpoint(*request, body);
  } else {
    line = request.status();
  }
  reply.status = HttpStatusFor(line.status());
  if (line.ok()) {
    reply.body = *std::move(line);
  } else if (std::optional<uint64_t> size = ConflictSize(line.status()); size.has_value()) {
    reply.content_type = kSizeContentType;
    reply.body = FormatSizeBody(*size);
  } else {
    reply.body = absl::StrCat(line.status().message(), "\n");
  }
  return reply;
}

}  // namespace trialog::witness
