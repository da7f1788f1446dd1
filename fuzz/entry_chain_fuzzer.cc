// Fuzzes what an auditor feeds untrusted bytes to: an export's entries.bin
// (exporter::ForEachEntryRecord), each record through ledger::ParseEntry,
// and the whole sequence through ledger::ChainVerifier with the trial's
// rules (core/trial). Signatures are not checked, so mutated entries reach
// the registry and the protocol rules instead of stopping at Ed25519.
//
// Invariants beyond "no crash, no sanitizer report": a verifier that
// refuses an entry stays where it was (its size does not move).

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/ledger/chain_verifier.h"
#include "core/ledger/entry.h"
#include "core/trial/state_machine.h"
#include "tools/export/bundle_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view file(reinterpret_cast<const char*>(data), size);
  trialog::trial::TrialStateMachine trial;
  trialog::ledger::ChainVerifier verifier({&trial}, /*check_signatures=*/false);
  (void)trialog::exporter::ForEachEntryRecord(file, [&](uint64_t, absl::string_view bytes) {
    absl::StatusOr<trialog::ledger::ParsedEntry> parsed = trialog::ledger::ParseEntry(bytes);
    (void)trialog::ledger::ParseEnvelope(bytes);
    const uint64_t before = verifier.size();
    absl::Status s = parsed.ok() ? verifier.AddParsed(*parsed) : verifier.Add(bytes);
    if (!s.ok() && verifier.size() != before) std::abort();  // a refusal moved the verifier
    if (s.ok() && verifier.size() != before + 1) std::abort();
    return s.ok();
  });
  return 0;
}
