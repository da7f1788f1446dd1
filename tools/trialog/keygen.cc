// trialog keygen: a new Ed25519 key in a passphrase-encrypted key file.

#include <iostream>

#include "absl/strings/str_cat.h"
#include "core/crypto/key_file.h"
#include "core/note/keys.h"
#include "core/util/bytes.h"
#include "nlohmann/json.hpp"
#include "tools/trialog/cli_util.h"
#include "tools/trialog/commands.h"

namespace trialog::cli {

void RegisterKeygen(CLI::App& app, int* exit_code) {
  struct Flags {
    std::string name, out, passphrase_file;
    bool json = false, weak_kdf = false;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "keygen",
      "Make a new Ed25519 key, sealed in a file with a passphrase (Argon2id + XSalsa20-Poly1305),\n"
      "and print its public verifier-key line. The file alone cannot sign.\n"
      "Example:\n"
      "  trialog keygen --name trialog.example/imt-crizotinib-01 --out ledger.key\n"
      "The passphrase comes from --passphrase-file, else $TRIALOG_PASSPHRASE, else the terminal.");
  cmd->add_option("--name", flags->name,
                  "Key name: for a ledger key, its checkpoint origin; for a person, their principal id")
      ->required();
  cmd->add_option("--out", flags->out, "Key file to create (never overwritten)")->required();
  cmd->add_option("--passphrase-file", flags->passphrase_file, "File holding the passphrase");
  cmd->add_flag("--json", flags->json, "Print a JSON object instead of text");
  cmd->add_flag("--weak-kdf", flags->weak_kdf,
                "Cheapest Argon2id settings: for tests and demos only");
  cmd->callback([flags, exit_code] {
    absl::StatusOr<std::string> passphrase =
        ReadPassphrase(flags->passphrase_file, "New passphrase: ", /*confirm=*/true);
    if (!passphrase.ok()) {
      std::cerr << "trialog keygen: " << passphrase.status().message() << "\n";
      *exit_code = kExitUsage;
      return;
    }
    crypto::SigningKey key = crypto::SigningKey::Generate();
    crypto::KeyFileParams params;
    if (flags->weak_kdf) params = crypto::kKeyFileTestParams;
    if (absl::Status s = crypto::WriteKeyFile(flags->out, flags->name, key, *passphrase, params);
        !s.ok()) {
      std::cerr << "trialog keygen: " << s.message() << "\n";
      // A bad name or empty passphrase is the caller's mistake (usage).
      *exit_code = s.code() == absl::StatusCode::kInvalidArgument ? kExitUsage : kExitError;
      return;
    }
    std::string vkey = note::FormatVerifierKey(flags->name, key.public_key());
    if (flags->json) {
      nlohmann::json j = {{"key_file", flags->out},
                          {"name", flags->name},
                          {"public_key", Base64Encode(key.public_key())},
                          {"verifier_key", vkey}};
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << vkey << "\n";
      std::cerr << "wrote " << flags->out << " (public key " << Base64Encode(key.public_key())
                << ")\n";
    }
  });
}

}  // namespace trialog::cli
