// replay_bench: times the replay walk of a kept trialog-bench scale ledger
// (`trialog-bench --scale N --scale_dir DIR`), in process, without
// trialogd. Each run opens the ledger with Ledger::Open and no snapshot (a
// full replay: re-hash, chain links, stored nodes, projections), prints the
// OpenStats parts and closes it without writing a snapshot.
//
//   replay_bench DIR [--runs N] [--walk_only]
//
// --walk_only opens with no registry and no state machine: the checks of
// the walk without the projections' Apply.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/crypto/key_file.h"
#include "core/ledger/registry.h"
#include "core/note/keys.h"
#include "core/trial/state_machine.h"
#include "core/util/mutex_debug.h"
#include "storage/ledger.h"

namespace {

constexpr char kLedgerName[] = "bench.trialog";  // trialog-bench's
constexpr char kTrial[] = "bench-scale";

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: replay_bench DIR [--runs N] [--walk_only]\n");
    return 2;
  }
  const std::string work = argv[1];
  int runs = 1;
  bool walk_only = false;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else if (a == "--walk_only") {
      walk_only = true;
    } else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  std::string passphrase;
  std::getline(std::ifstream(work + "/ledger.pass"), passphrase);
  absl::StatusOr<trialog::crypto::SigningKey> key =
      trialog::crypto::LoadKeyFile(work + "/ledger.key", passphrase);
  if (!key.ok()) {
    std::fprintf(stderr, "ledger key: %s\n", std::string(key.status().message()).c_str());
    return 1;
  }
  const std::string origin = absl::StrCat(kLedgerName, "/", kTrial);
  const trialog::note::NoteSigner signer(origin, *key);
  for (int run = 0; run < runs; ++run) {
    trialog::ledger::PrincipalRegistry registry;
    trialog::trial::TrialStateMachine machine;
    trialog::storage::LedgerOptions o;
    o.dir = work + "/data/trials/" + kTrial;
    o.checkpoint_signer = &signer;
    o.origin = origin;
    o.create_if_missing = false;
    o.use_snapshot = false;
    o.snapshot_every_entries = 0;
    o.snapshot_interval = absl::ZeroDuration();
    o.snapshot_on_close = false;
    std::vector<trialog::ledger::StateMachine*> machines;
    if (!walk_only) machines.push_back(&machine);
    absl::StatusOr<std::unique_ptr<trialog::storage::Ledger>> l = trialog::storage::Ledger::Open(
        o, walk_only ? nullptr : &registry, machines);
    if (!l.ok()) {
      std::fprintf(stderr, "open: %s\n", std::string(l.status().message()).c_str());
      return 1;
    }
    const trialog::storage::OpenStats& st = (*l)->open_stats();
    std::printf(
        "run %d: %s replay %llu entries in %.3f s = %.0f entries/s; open %.2f s (RocksDB %.2f, "
        "checks %.3f, node cache %.3f)\n",
        run, walk_only ? "walk-only" : "full", static_cast<unsigned long long>(st.replayed_entries),
        absl::ToDoubleSeconds(st.replay_time),
        static_cast<double>((*l)->size() - 0) / absl::ToDoubleSeconds(st.replay_time),
        absl::ToDoubleSeconds(st.open_time), absl::ToDoubleSeconds(st.rocksdb_open_time),
        absl::ToDoubleSeconds(st.check_time), absl::ToDoubleSeconds(st.node_load_time));
    std::fflush(stdout);
    if (absl::Status s = (*l)->Close(); !s.ok()) {
      std::fprintf(stderr, "close: %s\n", std::string(s.message()).c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  trialog::DisableMutexDeadlockDetectionUnlessAsked();
  return Main(argc, argv);
}
