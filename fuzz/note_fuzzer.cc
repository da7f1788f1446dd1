// Fuzzes the C2SP parsers an auditor runs on a checkpoint or note from an
// untrusted source: note::OpenNote (with a known key and with none),
// note::ParseCheckpoint on the text, note::OpenCheckpoint, and the key
// parsers (verifier keys and cosigner keys) on the raw input.
//
// Invariants: a checkpoint text that parses is canonical (formatting the
// parsed checkpoint gives back the same bytes) and passes CheckCheckpoint;
// an opened checkpoint has a 32-byte root.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/crypto/crypto.h"
#include "core/note/checkpoint.h"
#include "core/note/cosignature.h"
#include "core/note/keys.h"
#include "core/note/note.h"

namespace {

// A fixed ledger key, as a checkpoint's verifier would pin it. The seed
// corpus holds notes signed by it (fuzz/seed_gen.cc uses the same seed).
const trialog::note::Verifier& LedgerVerifier() {
  static const trialog::note::Verifier* v = [] {
    std::string seed(32, '\x07');
    trialog::crypto::SigningKey key = *trialog::crypto::SigningKey::FromSeed(seed);
    auto* out = new trialog::note::Verifier(*trialog::note::ParseVerifierKey(
        trialog::note::FormatVerifierKey("fuzz.example/ledger", key.public_key())));
    return out;
  }();
  return *v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  (void)trialog::note::ParseVerifierKey(text);
  (void)trialog::note::ParseCosignerKey(text);
  (void)trialog::note::OpenNote(text, {});
  (void)trialog::note::OpenNote(text, {LedgerVerifier()});
  absl::StatusOr<trialog::note::Checkpoint> parsed = trialog::note::ParseCheckpoint(text);
  absl::StatusOr<trialog::note::Checkpoint> opened =
      trialog::note::OpenCheckpoint(text, LedgerVerifier());
  if (opened.ok()) {
    if (opened->root_hash.size() != 32) std::abort();
  }
  if (parsed.ok()) {
    if (!trialog::note::CheckCheckpoint(*parsed).ok()) std::abort();
    if (trialog::note::FormatCheckpoint(*parsed) != text) std::abort();
  }
  return 0;
}
