#include "tools/trialog/cli_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace trialog::cli {
namespace {

absl::StatusOr<std::string> AskHidden(absl::string_view prompt) {
  std::fprintf(stderr, "%.*s", static_cast<int>(prompt.size()), prompt.data());
  std::fflush(stderr);
  termios old_mode;
  bool restore = tcgetattr(STDIN_FILENO, &old_mode) == 0;
  if (restore) {
    termios quiet = old_mode;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  bool got = static_cast<bool>(std::getline(std::cin, line));
  if (restore) tcsetattr(STDIN_FILENO, TCSANOW, &old_mode);
  std::fprintf(stderr, "\n");
  if (!got) return absl::FailedPreconditionError("no passphrase entered");
  return line;
}

}  // namespace

absl::StatusOr<std::string> ReadPassphrase(const std::string& passphrase_file,
                                           absl::string_view prompt, bool confirm) {
  if (!passphrase_file.empty()) {
    absl::StatusOr<std::string> text = ReadFile(passphrase_file);
    if (!text.ok()) return text.status();
    std::string p = *text;
    while (!p.empty() && (p.back() == '\n' || p.back() == '\r')) p.pop_back();
    if (p.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(passphrase_file, " holds no passphrase"));
    }
    return p;
  }
  if (const char* env = std::getenv("TRIALOG_PASSPHRASE"); env != nullptr && *env != '\0') {
    return std::string(env);
  }
  if (!isatty(STDIN_FILENO)) {
    return absl::FailedPreconditionError(
        "no passphrase: pass --passphrase-file, set TRIALOG_PASSPHRASE, or run on a terminal");
  }
  absl::StatusOr<std::string> first = AskHidden(prompt);
  if (!first.ok()) return first;
  if (confirm) {
    absl::StatusOr<std::string> second = AskHidden("Repeat passphrase: ");
    if (!second.ok()) return second;
    if (*first != *second) return absl::FailedPreconditionError("passphrases do not match");
  }
  return first;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

absl::Status WriteFile(const std::string& path, absl::string_view contents, int mode) {
  std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  size_t written = 0;
  while (written < contents.size()) {
    ssize_t n = write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      int err = errno;
      close(fd);
      unlink(tmp.c_str());
      return absl::UnavailableError(absl::StrCat("writing ", path, ": ", std::strerror(err)));
    }
    written += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return absl::UnavailableError(absl::StrCat("writing ", path, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ValueOrFile(const std::string& value) {
  if (value.empty() || value[0] != '@') return value;
  absl::StatusOr<std::string> text = ReadFile(value.substr(1));
  if (!text.ok()) return text.status();
  std::string v = *text;
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r' || v.back() == ' ')) v.pop_back();
  return v;
}

ProgressBar::ProgressBar(std::string label, bool force)
    : label_(std::move(label)),
      enabled_(force || isatty(STDERR_FILENO)),
      tty_(isatty(STDERR_FILENO)),
      start_(absl::Now()) {}

ProgressBar::~ProgressBar() { Finish(); }

void ProgressBar::Update(uint64_t done, uint64_t total) {
  if (!enabled_ || finished_) return;
  absl::Time now = absl::Now();
  if (now - last_draw_ < absl::Milliseconds(tty_ ? 100 : 1000) && !(total && done >= total)) return;
  last_draw_ = now;
  double secs = std::max(1e-3, absl::ToDoubleSeconds(now - start_));
  double rate = done / secs;
  constexpr int kWidth = 30;
  std::string bar;
  if (total > 0) {
    int filled = static_cast<int>(kWidth * std::min<double>(1.0, double(done) / total));
    bar = absl::StrCat("[", std::string(filled, '#'), std::string(kWidth - filled, '.'), "] ",
                       absl::StrFormat("%5.1f%%", 100.0 * done / total));
  }
  std::string eta;
  if (total > done && rate > 0) eta = absl::StrFormat(" eta %.0fs", (total - done) / rate);
  std::fprintf(stderr, tty_ ? "\r%s %s %llu%s  %.0f/s%s   " : "%s %s %llu%s  %.0f/s%s\n", label_.c_str(),
               bar.c_str(), static_cast<unsigned long long>(done),
               total ? absl::StrCat("/", total).c_str() : "", rate, eta.c_str());
  std::fflush(stderr);
}

void ProgressBar::Clear() {
  if (!enabled_ || finished_) return;
  if (tty_ && last_draw_ != absl::InfinitePast()) {
    std::fprintf(stderr, "\r\033[K");  // carriage return, erase to end of line
    std::fflush(stderr);
  }
  last_draw_ = absl::InfinitePast();
}

void ProgressBar::Finish() {
  if (!enabled_ || finished_) return;
  finished_ = true;
  if (tty_ && last_draw_ != absl::InfinitePast()) std::fprintf(stderr, "\n");
}

}  // namespace trialog::cli
