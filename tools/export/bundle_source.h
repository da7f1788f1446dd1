// `trialog verify --bundle DIR` (and every command taking a source): a
// cli::LedgerSource over a ledger bundle (bundle.h), checked offline.
//
// Opening checks the manifest's signature and every covered file but
// entries.bin; the reader yields entries.bin's records (so the verifier
// reports damage at the exact entry), and once all of them were read it
// checks entries.bin's hash, the manifest's counts, indexes and head, and
// that events.jsonl renders every entry; a mismatch is returned as the
// reader's error (the verifier reports it as unreadable input, exit 2).
//
// Thread-safety: as cli::LedgerSource (one caller at a time).

#ifndef TRIALOG_TOOLS_EXPORT_BUNDLE_SOURCE_H_
#define TRIALOG_TOOLS_EXPORT_BUNDLE_SOURCE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tools/export/bundle.h"
#include "tools/trialog/sources.h"

namespace trialog::exporter {

// NOT_FOUND / UNAUTHENTICATED / DATA_LOSS as OpenBundle;
// FAILED_PRECONDITION for a subject disclosure (not a whole ledger);
// INVALID_ARGUMENT only for a malformed pinned exporter key.
absl::StatusOr<std::unique_ptr<cli::LedgerSource>> OpenBundleSource(const std::string& dir,
                                                                     const BundleTrust& trust = {});

}  // namespace trialog::exporter

#endif  // TRIALOG_TOOLS_EXPORT_BUNDLE_SOURCE_H_
