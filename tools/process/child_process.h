// Child processes of the tools and tests that drive real binaries: a
// daemon (trialogd) started on loopback with a ready file, a program run to
// completion, and what /proc says about a running process.
//
// Used by trialog-bench and by the tests' trialogd fixture
// (tests/server/test_support.h); POSIX (posix_spawn, waitpid, /proc).

#ifndef TRIALOG_TOOLS_PROCESS_CHILD_PROCESS_H_
#define TRIALOG_TOOLS_PROCESS_CHILD_PROCESS_H_

#include <signal.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace trialog::process {

// Starts argv[0] with `argv` and this process's environment plus
// `extra_env` ("NAME=value" entries, later ones win), stdout and stderr
// both written to `output_file` (created or truncated). INTERNAL when it
// cannot be started.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& output_file,
                            const std::vector<std::string>& extra_env = {});

// The exit code of a waitpid status: the process's own code, 128 + signal
// when a signal ended it, -1 otherwise.
int ExitCode(int status);

// The whole file, or "" when it cannot be read.
std::string ReadFileOrEmpty(const std::string& path);

// A daemon child that writes a ready file ("grpc_port=N" and optionally
// "metrics_port=M" lines) once it serves, as trialogd --ready_file does.
// The destructor SIGKILLs a child still running.
class Daemon {
 public:
  struct Options {
    // Files: the ready file the daemon is told about (removed first) and
    // the file its stdout and stderr go to.
    std::string ready_file;
    std::string log_file;
    absl::Duration timeout = absl::Seconds(30);  // spawn to ready
    std::vector<std::string> extra_env;          // as for Spawn
  };

  // Spawns `argv` with --ready_file=<options.ready_file> appended and waits
  // (polling every 2 ms) until the ready file names a gRPC port.
  // `started_to_ready`, when not null, receives the wall time from spawn to
  // ready. FAILED_PRECONDITION with the exit code and the log when the child
  // exits first, DEADLINE_EXCEEDED (child killed) when it is not ready in
  // time, INTERNAL when it cannot be spawned.
  static absl::StatusOr<Daemon> Start(std::vector<std::string> argv, const Options& options,
                                      absl::Duration* started_to_ready = nullptr);
  Daemon(Daemon&& other) noexcept;
  Daemon& operator=(Daemon&&) = delete;
  Daemon(const Daemon&) = delete;
  ~Daemon();

  pid_t pid() const { return pid_; }  // -1 once stopped
  int port() const { return port_; }
  // The metrics port the ready file named (0 when the daemon serves none).
  int metrics_port() const { return metrics_port_; }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& log_file() const { return log_file_; }
  // Sends `sig` and waits up to `timeout` for the exit, then SIGKILLs.
  // Returns the exit code (128 + signal when a signal ended it, so
  // 128 + SIGKILL when it had to be killed); -1 when already stopped.
  int Stop(int sig = SIGTERM, absl::Duration timeout = absl::Seconds(30));

 private:
  Daemon() = default;
  pid_t pid_ = -1;
  int port_ = 0;
  int metrics_port_ = 0;
  std::string log_file_;
};

// Runs argv to completion, capturing stdout+stderr. exit_code is -1 when
// the program could not be started.
struct RunOutput {
  int exit_code = -1;
  std::string output;
  absl::Duration wall;
};
RunOutput Run(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {});

// VmRSS of `pid` in bytes (0 when unknown).
uint64_t RssBytes(pid_t pid);

// CPU time (user + system, all threads) `pid` has used so far; zero when
// unknown. Resolution: one clock tick (10 ms).
absl::Duration CpuTime(pid_t pid);

}  // namespace trialog::process

#endif  // TRIALOG_TOOLS_PROCESS_CHILD_PROCESS_H_
