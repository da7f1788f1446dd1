// trialog checkpoint: print a ledger's latest checkpoint exactly as signed,
// and prove it extends one trusted earlier.

#include <iostream>

#include "absl/strings/str_cat.h"
#include "core/ledger/parallel_verifier.h"
#include "core/merkle/merkle.h"
#include "core/note/checkpoint.h"
#include "core/util/bytes.h"
#include "nlohmann/json.hpp"
#include "tools/trialog/cli_util.h"
#include "tools/trialog/commands.h"
#include "tools/trialog/sources.h"

namespace trialog::cli {

void RegisterCheckpoint(CLI::App& app, int* exit_code) {
  struct Flags {
    SourceFlags source;
    std::string key, trusted, save;
    bool json = false;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "checkpoint",
      "Print the ledger's latest signed checkpoint exactly as signed (C2SP tlog-checkpoint),\n"
      "after checking its signature. With --trusted, also prove with a consistency proof that\n"
      "it extends the checkpoint you trusted before; a fork or rewritten history exits 7.\n"
      "Example:\n"
      "  trialog checkpoint --server 127.0.0.1:7443 --plaintext --trial imt-01 \\\n"
      "      --key @ledger.vkey --trusted @last.cp --save last.cp\n"
      "A data directory or bundle makes no proofs: both roots are recomputed from its entries.\n"
      "Exit codes: 0 ok, 2 unreadable, 3 entries do not match the latest checkpoint,\n"
      "5 bad checkpoint signature, 7 inconsistent, 64 usage.");
  AddSourceFlags(cmd, &flags->source);
  cmd->add_option("--key", flags->key, "The ledger's verifier key, or @FILE")->required();
  cmd->add_option("--trusted", flags->trusted, "FILE (or @FILE): a checkpoint note trusted earlier");
  cmd->add_option("--save", flags->save,
                  "Write the checkpoint here once it is verified (and consistent)");
  cmd->add_flag("--json", flags->json, "Print a JSON object instead of the note");
  cmd->callback([flags, exit_code] {
    auto fail = [&](int code, absl::string_view message) {
      std::cerr << "trialog checkpoint: " << message << "\n";
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
    absl::StatusOr<note::Checkpoint> cp = note::OpenCheckpoint(*note_text, *vkey);
    if (!cp.ok()) return fail(5, absl::StrCat("latest checkpoint: ", cp.status().message()));

    std::string consistency = "not checked (no --trusted)";
    if (!flags->trusted.empty()) {
      const std::string path =
          flags->trusted[0] == '@' ? flags->trusted.substr(1) : flags->trusted;
      absl::StatusOr<std::string> trusted_note = ReadFile(path);
      if (!trusted_note.ok()) return fail(kExitUsage, trusted_note.status().message());
      absl::StatusOr<note::Checkpoint> trusted = note::OpenCheckpoint(*trusted_note, *vkey);
      if (!trusted.ok()) return fail(5, absl::StrCat("trusted checkpoint: ", trusted.status().message()));
      if (trusted->size > cp->size) {
        return fail(7, absl::StrCat("the ledger went backwards: trusted size ", trusted->size,
                                    " > latest size ", cp->size, " (truncated history)"));
      }
      if (trusted->size == 0) {
        consistency = "trusted checkpoint is empty: every history extends it";
      } else if (trusted->size == cp->size) {
        if (trusted->root_hash != cp->root_hash) {
          return fail(7, absl::StrCat("FORK: two checkpoints of size ", cp->size,
                                      " with different roots, both signed by the ledger key"));
        }
        consistency = "same tree as the trusted checkpoint";
      } else {
        bool recomputed = false;
        absl::StatusOr<std::vector<std::string>> proof =
            (*source)->ConsistencyProof(trusted->size, cp->size);
        if (!proof.ok() && proof.status().code() == absl::StatusCode::kUnimplemented) {
          // A data directory or bundle makes no proofs, but holds the
          // entries: recompute both roots from them (chain and leaf hashes
          // checked on the way, ledger::ScanChain).
          ledger::ChainScanOptions scan;
          scan.roots_at = {trusted->size, cp->size};
          ledger::ChainScanResult r = ledger::ScanChain((*source)->Reader(), scan);
          if (r.read_error) return fail(2, absl::StrCat("reading entries: ", r.status.message()));
          auto root_at = [&](uint64_t size) {
            auto it = r.roots.find(size);
            return it == r.roots.end() ? std::string() : it->second;
          };
          if (r.status.ok() && r.size < trusted->size) {
            return fail(7, absl::StrCat("history was truncated: the trusted checkpoint covers ", trusted->size,
                                        " entries, the source holds ", r.size));
          }
          if (root_at(trusted->size) != trusted->root_hash) {
            return fail(7, absl::StrCat("FORK or rewritten history: the source's first ", trusted->size,
                                        " entries do not have the trusted checkpoint's root",
                                        r.status.ok() ? "" : absl::StrCat(" (", r.status.message(), ")")));
          }
          if (root_at(cp->size) != cp->root_hash) {
            return fail(3, absl::StrCat("the source's entries do not match its own latest checkpoint (size ",
                                        cp->size, ")", r.status.ok() ? "" : absl::StrCat(": ", r.status.message()),
                                        "; run `trialog verify`"));
          }
          recomputed = true;
          consistency = absl::StrCat("extends the trusted checkpoint of size ", trusted->size,
                                     " (both roots recomputed from the source's entries)");
        }
        if (!recomputed && !proof.ok()) return fail(2, proof.status().message());
        if (absl::Status s = recomputed ? absl::OkStatus()
                                        : merkle::VerifyConsistency(trusted->size, cp->size, *proof,
                                                                    trusted->root_hash, cp->root_hash);
            !s.ok()) {
          return fail(7, absl::StrCat("FORK or rewritten history: size ", cp->size,
                                      " does not extend the trusted size ", trusted->size, ": ",
                                      s.message()));
        }
        if (!recomputed) {
          consistency = absl::StrCat("extends the trusted checkpoint of size ", trusted->size,
                                     " (consistency proof of ", proof->size(), " hashes verified)");
        }
      }
    }
    if (!flags->save.empty()) {
      if (absl::Status s = WriteFile(flags->save, *note_text); !s.ok()) {
        return fail(1, s.message());
      }
    }
    if (flags->json) {
      nlohmann::json j = {{"origin", cp->origin},
                          {"size", cp->size},
                          {"root", Base64Encode(cp->root_hash)},
                          {"note", *note_text},
                          {"consistency", consistency}};
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << *note_text;
      std::cerr << "signature OK; " << consistency << "\n";
    }
  });
}

}  // namespace trialog::cli
