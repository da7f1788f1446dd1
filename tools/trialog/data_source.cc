// LedgerSource over a trialogd data directory (<data>/trials/<trial>/),
// read straight from RocksDB, opened read-only (no lock taken, nothing
// written). Stop trialogd first: a running server may be mid-batch, and
// only what it had flushed and logged is visible.

#include <filesystem>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "core/ledger/parallel_verifier.h"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "storage/schema.h"
#include "tools/trialog/cli_util.h"
#include "tools/trialog/sources.h"

namespace trialog::cli {
namespace {

class DataSource : public LedgerSource {
 public:
  DataSource(std::unique_ptr<storage::Db> db, std::string dir, std::string cosigned_path)
      : db_(std::move(db)), dir_(std::move(dir)), cosigned_path_(std::move(cosigned_path)) {}

  std::string Describe() const override { return absl::StrCat("data directory ", dir_); }

  absl::StatusOr<std::string> CheckpointNote() override {
    return db_->Get(storage::Cf::kMeta, storage::kMetaCheckpoint);
  }

  absl::StatusOr<std::string> CosignedCheckpointNote() override {
    absl::StatusOr<std::string> note = ReadFile(cosigned_path_);
    if (!note.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("no witness-cosigned checkpoint in ",
                                              cosigned_path_, " (trialogd runs with --witness?)"));
    }
    return note;
  }

  // The number of entries actually present (not the meta row, which a
  // damaged store may misstate): one past the last entry key.
  absl::StatusOr<uint64_t> Size() override {
    std::unique_ptr<rocksdb::Iterator> it = db_->NewIterator(storage::Cf::kEntries);
    it->SeekToLast();
    if (!it->status().ok()) {
      return absl::DataLossError(absl::StrCat("reading entries: ", it->status().ToString()));
    }
    if (!it->Valid()) return 0;
    absl::StatusOr<uint64_t> last =
        storage::DecodeEntryKey(absl::string_view(it->key().data(), it->key().size()));
    if (!last.ok()) return last.status();
    return *last + 1;
  }

  // Yields the stored entries in key order. A missing index is not skipped
  // silently: the entry after the gap is yielded in its place, so the
  // verifier reports the gap as a chain break at the missing index.
  ledger::EntryReader Reader() override {
    return [this](uint64_t from, const std::function<bool(absl::string_view)>& sink) {
      std::unique_ptr<rocksdb::Iterator> it = db_->NewIterator(storage::Cf::kEntries);
      for (it->Seek(storage::EntryKey(from)); it->Valid(); it->Next()) {
        if (!sink(absl::string_view(it->value().data(), it->value().size()))) break;
      }
      if (!it->status().ok()) {
        absl::Status s =
            absl::DataLossError(absl::StrCat("reading entries: ", it->status().ToString()));
        // RocksDB's checksums caught damaged bytes where the next entry lives.
        if (it->status().IsCorruption()) s.SetPayload(ledger::kEntryDamagedPayload, absl::Cord("1"));
        return s;
      }
      return absl::OkStatus();
    };
  }

  absl::StatusOr<std::vector<std::string>> ConsistencyProof(uint64_t, uint64_t) override {
    return absl::UnimplementedError(
        "a data directory is verified in full; use --trusted with `trialog verify` instead");
  }

 private:
  std::unique_ptr<storage::Db> db_;
  std::string dir_;
  std::string cosigned_path_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<LedgerSource>> OpenDataSource(const SourceFlags& flags) {
  if (flags.trial.empty()) return absl::InvalidArgumentError("--data needs --trial");
  std::string dir = (std::filesystem::path(flags.data) / "trials" / flags.trial).string();
  if (!std::filesystem::exists(dir)) {
    return absl::NotFoundError(absl::StrCat("no ledger for trial ", flags.trial, " in ", dir));
  }
  storage::DbOptions options;
  options.dir = dir;
  options.create_if_missing = false;
  options.read_only = true;
  absl::StatusOr<std::unique_ptr<storage::Db>> db = storage::Db::Open(options);
  if (!db.ok()) {
    return absl::Status(db.status().code(),
                        absl::StrCat(db.status().message(),
                                     " (is this a trialogd data directory?)"));
  }
  std::string cosigned =
      (std::filesystem::path(flags.data) / "witnessing" / (flags.trial + ".cosigned")).string();
  return std::unique_ptr<LedgerSource>(new DataSource(*std::move(db), dir, std::move(cosigned)));
}

}  // namespace trialog::cli
