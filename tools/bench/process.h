// Child processes for the benchmark: trialogd started on loopback with a
// ready file, external tools (pgbench, trialog verify) run to completion,
// and the resident set size of a running process.

#ifndef TRIALOG_TOOLS_BENCH_PROCESS_H_
#define TRIALOG_TOOLS_BENCH_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace trialog::bench {

// A trialogd child. Stop() sends SIGTERM and waits; the destructor SIGKILLs
// a child still running.
class Daemon {
 public:
  // Spawns `argv` (argv[0] = the trialogd binary) with --ready_file=<ready>
  // appended, stdout and stderr to `log_file`, and waits (up to `timeout`)
  // until the ready file names a gRPC port. `started_to_ready` receives the
  // wall time from spawn to ready. FAILED_PRECONDITION with the log when
  // the child exits early, DEADLINE_EXCEEDED when it is not ready in time.
  static absl::StatusOr<Daemon> Start(std::vector<std::string> argv, const std::string& ready,
                                      const std::string& log_file, absl::Duration timeout,
                                      absl::Duration* started_to_ready);
  Daemon(Daemon&& other) noexcept;
  Daemon& operator=(Daemon&&) = delete;
  Daemon(const Daemon&) = delete;
  ~Daemon();

  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  // The metrics port the ready file named (0 when trialogd serves none).
  int metrics_port() const { return metrics_port_; }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }
  // SIGTERM, then waits up to 30 s (then SIGKILL). Returns the exit code
  // (128 + signal when killed).
  int Stop();

 private:
  Daemon() = default;
  pid_t pid_ = -1;
  int port_ = 0;
  int metrics_port_ = 0;
};

// Runs argv to completion, capturing stdout+stderr. exit_code is -1 when
// the program could not be started.
struct RunOutput {
  int exit_code = -1;
  std::string output;
  absl::Duration wall;
};
RunOutput Run(const std::vector<std::string>& argv);

// VmRSS of `pid` in bytes (0 when unknown).
uint64_t RssBytes(pid_t pid);

// CPU time (user + system, all threads) `pid` has used so far; zero when
// unknown. Resolution: one clock tick (10 ms).
absl::Duration CpuTime(pid_t pid);

}  // namespace trialog::bench

#endif  // TRIALOG_TOOLS_BENCH_PROCESS_H_
