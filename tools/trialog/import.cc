// trialog import: batch-signed bulk import into a running trialogd
// (BulkImportService.ImportBatch; docs/FORMAT.md §1.1).

#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/bulk_import.h"
#include "client/client.h"
#include "core/ledger/admission.h"
#include "core/ledger/batch.h"
#include "core/note/keys.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "tools/trialog/cli_util.h"
#include "tools/trialog/import_command.h"

namespace trialog::cli {
namespace {

// Exit codes of `trialog import` beyond the shared ones.
constexpr int kExitRefused = 2;    // the server refused a batch (nothing of it appended)
constexpr int kExitBadInput = 65;  // the input file is malformed (sysexits EX_DATAERR)

struct ImportFlags {
  std::string server;
  bool plaintext = false;
  std::string ca_file, cert_file, client_key_file;
  std::string key;  // ledger verifier key or @FILE
  std::string signer_key_file, passphrase_file;
  std::string principal_id, printed_name, site_id;
  std::string in;
  size_t batch_size = 4096;
  bool want_receipts = false;
  bool json = false;
  bool progress = false;
};

// Reads envelopes: .jsonl (one trialog.v1.Envelope in protobuf's JSON
// mapping per line) or .binpb (varint-length-delimited serialised
// Envelopes). INVALID_ARGUMENT naming the line / record.
absl::StatusOr<std::vector<v1::Envelope>> ReadEnvelopes(const std::string& path) {
  std::vector<v1::Envelope> out;
  if (absl::EndsWith(path, ".jsonl")) {
    std::ifstream in(path);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (line.empty()) continue;
      v1::Envelope e;
      google::protobuf::util::Status s = google::protobuf::util::JsonStringToMessage(line, &e);
      if (!s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ":", n, ": not a trialog.v1.Envelope in JSON: ", s.ToString()));
      }
      out.push_back(std::move(e));
    }
    return out;
  }
  if (absl::EndsWith(path, ".binpb")) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
    google::protobuf::io::IstreamInputStream raw(&in);
    google::protobuf::io::CodedInputStream coded(&raw);
    coded.SetTotalBytesLimit(INT32_MAX);
    for (int n = 0;; ++n) {
      uint32_t size = 0;
      if (!coded.ReadVarint32(&size)) break;  // end of file
      if (size > ledger::kMaxEnvelopeBytes) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": record ", n, " is ", size, " bytes (limit ", ledger::kMaxEnvelopeBytes, ")"));
      }
      std::string bytes;
      v1::Envelope e;
      if (!coded.ReadString(&bytes, static_cast<int>(size)) || !e.ParseFromString(bytes)) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": record ", n, " is truncated or not a trialog.v1.Envelope"));
      }
      out.push_back(std::move(e));
    }
    return out;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--in ", path, ": the file name must end in .jsonl or .binpb"));
}

}  // namespace

void RegisterImport(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ImportFlags>();
  CLI::App* cmd = app.add_subcommand(
      "import",
      "Bulk-import events into a running trialogd, many per signature (batch-signed import).\n"
      "For migrations from an older EDC and for labs sending results in batches. The signer must\n"
      "be registered in the trial as ROLE_EXTERNAL_SYSTEM; every event is recorded with it as the\n"
      "actor, and each must still pass the trial's rules and the role's rights. The events are\n"
      "sent in batches (--batch-size); each batch is signed ONCE (Ed25519 over the batch's RFC 6962\n"
      "Merkle root, docs/FORMAT.md §1.1) and appended all-or-nothing: a refused event refuses its\n"
      "whole batch, which the error names with the event's position. Batches before it stay\n"
      "appended. Give every event an event_id to make a re-run safe: already imported batches are\n"
      "then answered as duplicates instead of appended twice.\n"
      "Input: .jsonl (one trialog.v1.Envelope per line, protobuf JSON mapping; trial_id, actor,\n"
      "client time are filled in) or .binpb (varint-length-delimited serialised Envelopes).\n"
      "Exit codes: 0 all imported; 1 error (connection, key, bad answer); 2 a batch was refused\n"
      "(see the message / --json); 64 bad flags; 65 malformed input file.\n"
      "Example:\n"
      "  trialog import --server 127.0.0.1:7443 --plaintext --key @ledger.vkey \\\n"
      "      --signer-key lab.key --passphrase-file pass.txt --principal lab-central \\\n"
      "      --printed-name 'Central laboratory' --in results.jsonl --json");
  cmd->add_option("--server", flags->server, "trialogd address, HOST:PORT")->required();
  cmd->add_flag("--plaintext", flags->plaintext, "No TLS (loopback only)");
  cmd->add_option("--ca", flags->ca_file, "PEM file of the CA that signed the server's certificate");
  cmd->add_option("--cert", flags->cert_file, "Mutual TLS: this client's certificate (PEM); it must name the signer");
  cmd->add_option("--client-key", flags->client_key_file, "Mutual TLS: the certificate's private key (PEM)");
  cmd->add_option("--key", flags->key,
                  "The trial's checkpoint verifier key (name+id+base64), or @FILE; its name is the "
                  "ledger origin <ledger>/<trial id>")
      ->required();
  cmd->add_option("--signer-key", flags->signer_key_file,
                  "Encrypted key file of the system principal that signs the batches (trialog keygen)")
      ->required();
  cmd->add_option("--passphrase-file", flags->passphrase_file,
                  "File holding the key file's passphrase (else $TRIALOG_PASSPHRASE, else asked)");
  cmd->add_option("--principal", flags->principal_id, "The signer's principal id in the trial")->required();
  cmd->add_option("--printed-name", flags->printed_name, "The signer's printed name (recorded in each event)");
  cmd->add_option("--site", flags->site_id, "The signer's site, if it is registered with one");
  cmd->add_option("--in", flags->in, "Events to import: FILE.jsonl or FILE.binpb")->required();
  cmd->add_option("--batch-size", flags->batch_size, "Events per signed batch (1..65536)")
      ->check(CLI::Range(1, 65536));
  cmd->add_flag("--receipts", flags->want_receipts,
                "Ask for and verify one receipt per event (slower; default: the batch's checkpoint)");
  cmd->add_flag("--json", flags->json, "Print a JSON summary on stdout");
  cmd->add_flag("--progress", flags->progress, "Draw the progress bar even when stderr is not a terminal");
  cmd->callback([flags, exit_code] {
    nlohmann::json summary;
    auto finish = [&](int code, absl::string_view message) {
      if (!message.empty()) std::cerr << "trialog import: " << message << "\n";
      summary["exit_code"] = code;
      if (!message.empty()) summary["error"] = std::string(message);
      if (flags->json) std::cout << summary.dump(2) << "\n";
      *exit_code = code;
    };
    absl::StatusOr<std::string> vkey_text = ValueOrFile(flags->key);
    if (!vkey_text.ok()) return finish(kExitUsage, vkey_text.status().message());
    absl::StatusOr<note::Verifier> vkey = note::ParseVerifierKey(*vkey_text);
    if (!vkey.ok()) return finish(kExitUsage, vkey.status().message());
    const std::string trial_id = vkey->name.substr(vkey->name.rfind('/') + 1);
    summary["trial_id"] = trial_id;

    absl::StatusOr<std::vector<v1::Envelope>> events = ReadEnvelopes(flags->in);
    if (!events.ok()) {
      return finish(events.status().code() == absl::StatusCode::kInvalidArgument ? kExitBadInput
                                                                                 : kExitError,
                    events.status().message());
    }
    absl::StatusOr<std::string> passphrase =
        ReadPassphrase(flags->passphrase_file, "Passphrase of the signer key: ", false);
    if (!passphrase.ok()) return finish(kExitError, passphrase.status().message());
    v1::Actor actor;
    actor.set_principal_id(flags->principal_id);
    actor.set_printed_name(flags->printed_name);
    actor.set_role(ledger::kBatchSignerRole);
    actor.set_site_id(flags->site_id);
    absl::StatusOr<client::Signer> signer =
        client::Signer::FromKeyFile(flags->signer_key_file, *passphrase, actor);
    if (!signer.ok()) return finish(kExitError, signer.status().message());

    client::ChannelOptions channel_options;
    channel_options.target = flags->server;
    channel_options.plaintext = flags->plaintext;
    for (auto [file, out] : {std::pair{&flags->ca_file, &channel_options.tls_root_ca_pem},
                             std::pair{&flags->cert_file, &channel_options.tls_client_cert_pem},
                             std::pair{&flags->client_key_file, &channel_options.tls_client_key_pem}}) {
      if (file->empty()) continue;
      absl::StatusOr<std::string> pem = ReadFile(*file);
      if (!pem.ok()) return finish(kExitUsage, pem.status().message());
      *out = *std::move(pem);
    }
    absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels =
        client::MakeChannels(channel_options);
    if (!channels.ok()) return finish(kExitUsage, channels.status().message());
    std::unique_ptr<v1::BulkImportService::Stub> stub = v1::BulkImportService::NewStub((*channels)[0]);

    const uint64_t total = events->size();
    ProgressBar bar("import", flags->progress);
    uint64_t done = 0, batches = 0, duplicates = 0;
    int64_t first_index = -1;
    std::string checkpoint;
    const absl::Time start = absl::Now();
    client::BatchBuilder builder(*signer, trial_id);
    for (size_t i = 0; i < events->size();) {
      const size_t begin = i;
      for (; i < events->size() && builder.size() < flags->batch_size; ++i) {
        builder.Add(std::move((*events)[i]));
      }
      absl::StatusOr<v1::SignedBatch> batch = builder.Finish();
      if (!batch.ok()) return finish(kExitError, batch.status().message());
      client::ImportOptions o;
      o.want_receipts = flags->want_receipts;
      absl::StatusOr<client::ImportResult> r = client::ImportBatch(*stub, trial_id, *batch, *vkey, o);
      if (!r.ok()) {
        summary["imported"] = done;
        summary["batches"] = batches;
        summary["refused_batch"] = {{"first_event", begin}, {"events", i - begin},
                                    {"code", absl::StatusCodeToString(r.status().code())}};
        const absl::StatusCode c = r.status().code();
        const bool refused = c == absl::StatusCode::kInvalidArgument ||
                             c == absl::StatusCode::kPermissionDenied ||
                             c == absl::StatusCode::kUnauthenticated ||
                             c == absl::StatusCode::kFailedPrecondition ||
                             c == absl::StatusCode::kAlreadyExists || c == absl::StatusCode::kAborted ||
                             c == absl::StatusCode::kResourceExhausted;
        bar.Finish();
        return finish(refused ? kExitRefused : kExitError,
                      absl::StrCat("batch of events ", begin, "..", i - 1, " (positions are within the batch) ",
                                   refused ? "refused, nothing of it appended: " : "failed: ",
                                   r.status().message()));
      }
      if (first_index < 0) first_index = static_cast<int64_t>(r->response.first_index());
      if (r->response.duplicate()) ++duplicates;
      checkpoint = r->response.checkpoint();
      done = i;
      ++batches;
      bar.Update(done, total);
    }
    bar.Finish();
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    summary["imported"] = done;
    summary["batches"] = batches;
    summary["duplicate_batches"] = duplicates;
    if (first_index >= 0) summary["first_index"] = first_index;
    summary["checkpoint"] = checkpoint;
    summary["seconds"] = seconds;
    summary["events_per_second"] = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
    if (!flags->json) {
      std::cerr << "trialog import: " << done << " events in " << batches << " signed batches ("
                << duplicates << " already imported), " << seconds << " s\n";
    }
    finish(kExitOk, "");
  });
}

}  // namespace trialog::cli
