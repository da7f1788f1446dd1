// Fuzzes the export-bundle readers `trialog verify --bundle` runs on files
// a regulator received: the manifest's note text (exporter::ParseManifest),
// entries.bin (DecodeEntriesFile) and proofs.bin (DecodeProofsFile).
//
// Invariants: a manifest that parses formats back to the same text; a
// proofs file that decodes re-encodes to the same bytes; so does an
// entries file.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "tools/export/bundle_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view in(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<trialog::exporter::Manifest> manifest = trialog::exporter::ParseManifest(in);
  if (manifest.ok()) {
    absl::StatusOr<std::string> again = trialog::exporter::FormatManifest(*manifest);
    if (!again.ok() || *again != in) std::abort();
  }
  absl::StatusOr<std::vector<std::string>> entries = trialog::exporter::DecodeEntriesFile(in);
  if (entries.ok()) {
    absl::StatusOr<std::string> again = trialog::exporter::EncodeEntriesFile(*entries);
    if (!again.ok() || *again != in) std::abort();
  }
  absl::StatusOr<std::vector<trialog::exporter::IndexedProof>> proofs =
      trialog::exporter::DecodeProofsFile(in);
  if (proofs.ok()) {
    absl::StatusOr<std::string> again = trialog::exporter::EncodeProofsFile(*proofs);
    if (!again.ok() || *again != in) std::abort();
  }
  return 0;
}
