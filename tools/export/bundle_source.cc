#include "tools/export/bundle_source.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "core/ledger/entry.h"
#include "core/note/checkpoint.h"

namespace trialog::exporter {
namespace {

class BundleSource : public cli::LedgerSource {
 public:
  explicit BundleSource(OpenedBundle bundle) : b_(std::move(bundle)) {
    // Records that parse, up to the first framing error (reported by Reader()).
    ForEachEntryRecord(b_.file(kEntriesFile), [this](uint64_t, absl::string_view) {
      ++records_;
      return true;
    }).IgnoreError();
  }

  std::string Describe() const override {
    return absl::StrCat("bundle ", b_.dir, " (", b_.manifest.origin, ", manifest signed by ", b_.exporter_key.name,
                        b_.exporter_key_pinned ? ", pinned key)" : ", key from the bundle, not pinned)");
  }

  absl::StatusOr<std::string> CheckpointNote() override { return b_.file(kCheckpointFile); }
  // An export made under a witness policy carries the cosigned checkpoint
  // in checkpoint.note; whether it has the cosignatures a verifier's policy
  // needs is for the policy check to say.
  absl::StatusOr<std::string> CosignedCheckpointNote() override { return b_.file(kCheckpointFile); }

  absl::StatusOr<uint64_t> Size() override { return records_; }

  ledger::EntryReader Reader() override {
    return [this](uint64_t from, const std::function<bool(absl::string_view)>& sink) -> absl::Status {
      std::vector<ledger::ParsedEntry> parsed;
      uint64_t yielded = 0;
      absl::Status framing = ForEachEntryRecord(b_.file(kEntriesFile), [&](uint64_t n, absl::string_view bytes) {
        if (absl::StatusOr<ledger::ParsedEntry> e = ledger::ParseEntry(bytes); e.ok()) {
          parsed.push_back(*std::move(e));
        }
        if (n < from) return true;
        ++yielded;
        return sink(bytes);
      });
      if (!framing.ok()) return framing;
      if (from + yielded < records_ || parsed.size() != records_) return absl::OkStatus();  // stopped early
      // Every record was read: the checks that need the entries.
      const std::string& note = b_.file(kCheckpointFile);
      const size_t blank = note.rfind("\n\n");
      absl::StatusOr<note::Checkpoint> checkpoint =
          note::ParseCheckpoint(blank == std::string::npos ? note : note.substr(0, blank + 1));
      if (!checkpoint.ok()) return absl::DataLossError(absl::StrCat("checkpoint.note: ", checkpoint.status().message()));
      return CheckBundleContents(b_, parsed, *checkpoint);
    };
  }

  absl::StatusOr<std::vector<std::string>> ConsistencyProof(uint64_t, uint64_t) override {
    return absl::UnimplementedError(
        "a bundle holds no consistency proofs; it is verified in full (use --trusted with a checkpoint you "
        "trusted before)");
  }

 private:
  OpenedBundle b_;
  uint64_t records_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<cli::LedgerSource>> OpenBundleSource(const std::string& dir,
                                                                     const BundleTrust& trust) {
  absl::StatusOr<OpenedBundle> b = OpenBundle(dir, trust);
  if (!b.ok()) return b.status();
  if (b->manifest.kind != kKindLedgerBundle) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir, " is a ", b->manifest.kind, " of subject ", b->manifest.subject_id,
        ", not a whole ledger: `trialog verify --bundle` checks it with the disclosure verifier; exports need a "
        "ledger bundle, a server or a data directory"));
  }
  return std::unique_ptr<cli::LedgerSource>(new BundleSource(*std::move(b)));
}

}  // namespace trialog::exporter
