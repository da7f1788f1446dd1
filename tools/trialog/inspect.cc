// trialog inspect: one entry decoded, with its inclusion proof under the
// ledger's latest signed checkpoint, verified (tools/audit/inspect.h).

#include <iostream>

#include "absl/strings/str_cat.h"
#include "core/note/keys.h"
#include "core/util/bytes.h"
#include "nlohmann/json.hpp"
#include "tools/audit/inspect.h"
#include "tools/export/event_fields.h"
#include "tools/export/timestamps.h"
#include "tools/trialog/audit_commands.h"
#include "tools/trialog/cli_util.h"
#include "tools/trialog/sources.h"

namespace trialog::cli {

void RegisterInspect(CLI::App& app, int* exit_code) {
  struct Flags {
    SourceFlags source;
    std::string key;
    uint64_t index = 0;
    bool json = false;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "inspect",
      "One entry decoded: entry fields, the signed envelope as JSON (protobuf's JSON mapping),\n"
      "leaf hash, chain link, the signer and the key the ledger's own registry held for it at that\n"
      "entry (signature verified), and the RFC 6962 inclusion proof of the entry under the latest\n"
      "signed checkpoint, computed from the entries and verified against the signed root.\n"
      "Example:\n"
      "  trialog inspect --data /var/lib/trialog --trial imt-01 --key @ledger.vkey --index 300 --json\n"
      "Exit codes: 0 all checks pass, 1 the index is not covered by the checkpoint, 2 unreadable input,\n"
      "3 chain link or inclusion proof fails, 4 envelope signature, 5 checkpoint signature, 64 usage.");
  AddSourceFlags(cmd, &flags->source);
  cmd->add_option("--key", flags->key, "The ledger's verifier key, or @FILE")->required();
  cmd->add_option("--index", flags->index, "The entry's index (0-based)")->required();
  cmd->add_flag("--json", flags->json, "Print a JSON object");
  cmd->callback([flags, exit_code] {
    auto fail = [&](int code, absl::string_view message) {
      std::cerr << "trialog inspect: " << message << "\n";
      *exit_code = code;
    };
    absl::StatusOr<std::string> vkey_text = ValueOrFile(flags->key);
    if (!vkey_text.ok()) return fail(kExitUsage, vkey_text.status().message());
    absl::StatusOr<note::Verifier> vkey = note::ParseVerifierKey(*vkey_text);
    if (!vkey.ok()) return fail(kExitUsage, vkey.status().message());
    absl::StatusOr<std::unique_ptr<LedgerSource>> source = OpenSource(flags->source);
    if (!source.ok()) {
      return fail(source.status().code() == absl::StatusCode::kInvalidArgument ? kExitUsage : 2,
                  source.status().message());
    }
    absl::StatusOr<std::string> note_text = (*source)->CheckpointNote();
    if (!note_text.ok()) return fail(2, note_text.status().message());
    absl::StatusOr<audit::Inspection> in = audit::InspectEntry((*source)->Reader(), flags->index, *note_text, *vkey);
    if (!in.ok()) {
      switch (in.status().code()) {
        case absl::StatusCode::kUnauthenticated: return fail(5, in.status().message());
        case absl::StatusCode::kOutOfRange: return fail(kExitError, in.status().message());
        default: return fail(2, in.status().message());
      }
    }
    const ledger::ParsedEntry& e = in->entry;
    const v1::Envelope& env = e.envelope;
    std::vector<std::string> proof_hex;
    for (const std::string& h : in->proof) proof_hex.push_back(HexEncode(h));
    *exit_code = ledger::FindingExitCode(in->finding);
    if (flags->json) {
      nlohmann::ordered_json j;
      j["index"] = e.entry.index();
      j["result"] = ledger::FindingName(in->finding);
      j["message"] = in->message;
      j["leaf_hash"] = HexEncode(e.leaf_hash);
      j["prev_leaf_hash"] = HexEncode(e.entry.prev_leaf_hash());
      j["chain_link_ok"] = in->chain_link_ok;
      j["recorded_at"] = exporter::UtcTimestamp(e.entry.recorded_at_unix_micros());
      j["stream_version"] = e.entry.stream_version();
      j["kind"] = exporter::EventKind(env.event());
      j["entry_bytes"] = e.bytes.size();
      j["envelope_bytes"] = e.entry.signed_envelope().envelope().size();
      j["envelope"] = nlohmann::ordered_json::parse(in->envelope_json, nullptr, false);
      j["envelope_signature"] = Base64Encode(e.entry.signed_envelope().signature());
      j["signer"] = {{"principal_id", env.actor().principal_id()},
                     {"printed_name", env.actor().printed_name()},
                     {"public_key", in->signer_key.empty() ? nlohmann::json() : nlohmann::json(Base64Encode(in->signer_key))},
                     {"key_status", in->signer_status.ok() ? "ok" : std::string(in->signer_status.message())},
                     {"signature_ok", in->signature_ok}};
      j["checkpoint"] = {{"origin", in->checkpoint.origin},
                         {"size", in->checkpoint.size},
                         {"root", Base64Encode(in->checkpoint.root_hash)},
                         {"signature_ok", true}};
      j["inclusion_proof"] = {{"index", e.entry.index()},
                              {"tree_size", in->checkpoint.size},
                              {"hashes", proof_hex},
                              {"verified", in->proof_status.ok()},
                              {"error", in->proof_status.ok() ? "" : std::string(in->proof_status.message())}};
      std::cout << j.dump(2) << "\n";
      return;
    }
    std::cout << "entry " << e.entry.index() << "  (" << e.bytes.size() << " bytes)\n"
              << "  kind            " << exporter::EventKind(env.event()) << "\n"
              << "  summary         " << exporter::EventSummary(env.event()) << "\n"
              << "  stream          " << env.stream_id() << " version " << e.entry.stream_version() << "\n"
              << "  recorded at     " << exporter::UtcTimestamp(e.entry.recorded_at_unix_micros()) << "\n"
              << "  observed at     "
              << exporter::LocalTimestamp(env.observed_at().unix_micros(), env.observed_at().utc_offset_minutes())
              << "\n"
              << "  leaf hash       " << HexEncode(e.leaf_hash) << "\n"
              << "  prev leaf hash  " << HexEncode(e.entry.prev_leaf_hash())
              << (in->chain_link_ok ? "  (links to the entry before: OK)" : "  (BROKEN chain link)") << "\n"
              << "  signer          " << env.actor().printed_name() << " [" << env.actor().principal_id() << "]\n"
              << "  signer key      "
              << (in->signer_key.empty() ? absl::StrCat("none: ", in->signer_status.message())
                                         : Base64Encode(in->signer_key))
              << "\n"
              << "  signature       " << (in->signature_ok ? "verifies" : "DOES NOT VERIFY") << "\n"
              << "  envelope        " << in->envelope_json << "\n"
              << "  checkpoint      " << in->checkpoint.origin << " size " << in->checkpoint.size << " root "
              << Base64Encode(in->checkpoint.root_hash) << " (signature OK)\n"
              << "  inclusion proof " << in->proof.size() << " hashes, "
              << (in->proof_status.ok() ? "verifies against the checkpoint root"
                                        : absl::StrCat("DOES NOT VERIFY: ", in->proof_status.message()))
              << "\n";
    for (size_t i = 0; i < proof_hex.size(); ++i) std::cout << "    [" << i << "] " << proof_hex[i] << "\n";
    std::cout << (in->finding == ledger::Finding::kOk ? "OK  " : "FAILED  ") << in->message << "\n";
  });
}

}  // namespace trialog::cli
