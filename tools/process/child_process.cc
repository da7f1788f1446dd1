#include "tools/process/child_process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

extern char** environ;

namespace trialog::process {

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& output_file,
                            const std::vector<std::string>& extra_env) {
  if (argv.empty()) return absl::InvalidArgumentError("Spawn: empty argv");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_store;
  for (char** e = environ; *e != nullptr; ++e) env_store.emplace_back(*e);
  for (const auto& e : extra_env) env_store.push_back(e);
  std::vector<char*> env;
  for (auto& e : env_store) env.push_back(e.data());
  env.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, output_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return absl::InternalError(absl::StrCat("cannot start ", argv[0], ": errno ", rc));
  return pid;
}

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

absl::StatusOr<Daemon> Daemon::Start(std::vector<std::string> argv, const Options& options,
                                     absl::Duration* started_to_ready) {
  std::error_code ec;
  std::filesystem::remove(options.ready_file, ec);
  argv.push_back("--ready_file=" + options.ready_file);
  const absl::Time start = absl::Now();
  absl::StatusOr<pid_t> pid = Spawn(argv, options.log_file, options.extra_env);
  if (!pid.ok()) return pid.status();
  Daemon d;  // SIGKILLs the child on every error return below
  d.pid_ = *pid;
  d.log_file_ = options.log_file;
  const absl::Time deadline = start + options.timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    if (waitpid(d.pid_, &status, WNOHANG) == d.pid_) {
      d.pid_ = -1;
      return absl::FailedPreconditionError(absl::StrCat(argv[0], " exited with ", ExitCode(status),
                                                        ": ", ReadFileOrEmpty(options.log_file)));
    }
    if (std::filesystem::exists(options.ready_file, ec)) {
      for (absl::string_view line : absl::StrSplit(ReadFileOrEmpty(options.ready_file), '\n')) {
        std::pair<std::string, std::string> kv = absl::StrSplit(line, '=');
        if (kv.first == "grpc_port") (void)absl::SimpleAtoi(kv.second, &d.port_);
        if (kv.first == "metrics_port") (void)absl::SimpleAtoi(kv.second, &d.metrics_port_);
      }
      if (d.port_ != 0) {
        if (started_to_ready != nullptr) *started_to_ready = absl::Now() - start;
        return d;
      }
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
  return absl::DeadlineExceededError(
      absl::StrCat(argv[0], " was not ready in ", absl::FormatDuration(options.timeout)));
}

Daemon::Daemon(Daemon&& other) noexcept
    : pid_(other.pid_),
      port_(other.port_),
      metrics_port_(other.metrics_port_),
      log_file_(std::move(other.log_file_)) {
  other.pid_ = -1;
}

int Daemon::Stop(int sig, absl::Duration timeout) {
  if (pid_ < 0) return -1;
  kill(pid_, sig);
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  while (absl::Now() < deadline) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return ExitCode(status);
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return 128 + SIGKILL;
}

Daemon::~Daemon() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

RunOutput Run(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env) {
  RunOutput r;
  char tmpl[] = "/tmp/trialog-run-XXXXXX";
  const int fd = mkstemp(tmpl);
  if (fd < 0) return r;
  close(fd);
  const absl::Time start = absl::Now();
  absl::StatusOr<pid_t> pid = Spawn(argv, tmpl, extra_env);
  if (pid.ok()) {
    int status = 0;
    waitpid(*pid, &status, 0);
    r.exit_code = ExitCode(status);
  }
  r.wall = absl::Now() - start;
  r.output = ReadFileOrEmpty(tmpl);
  std::remove(tmpl);
  return r;
}

uint64_t RssBytes(pid_t pid) {
  const std::string status = ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/status"));
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (absl::ConsumePrefix(&line, "VmRSS:")) {
      line = absl::StripAsciiWhitespace(line);
      absl::ConsumeSuffix(&line, " kB");
      uint64_t kb = 0;
      if (absl::SimpleAtoi(line, &kb)) return kb * 1024;
    }
  }
  return 0;
}

absl::Duration CpuTime(pid_t pid) {
  // /proc/PID/stat: "pid (comm) state ..."; comm may hold spaces, so count
  // fields after the last ')'. utime and stime are fields 14 and 15.
  const std::string stat = ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/stat"));
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return absl::ZeroDuration();
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(stat).substr(paren + 2), ' ', absl::SkipEmpty());
  // fields[0] is field 3 (state): utime is fields[11], stime fields[12].
  if (fields.size() < 13) return absl::ZeroDuration();
  uint64_t utime = 0, stime = 0;
  if (!absl::SimpleAtoi(fields[11], &utime) || !absl::SimpleAtoi(fields[12], &stime)) {
    return absl::ZeroDuration();
  }
  const long ticks = sysconf(_SC_CLK_TCK);
  return absl::Seconds(static_cast<double>(utime + stime) /
                       static_cast<double>(ticks > 0 ? ticks : 100));
}

}  // namespace trialog::process
