#include "core/crypto/key_file.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/util/bytes.h"
#include "core/util/status_macros.h"

namespace trialog::crypto {
namespace {

static_assert(kArgon2OpsLimitMin == crypto_pwhash_argon2id_OPSLIMIT_MIN);
static_assert(kArgon2MemLimitMin == crypto_pwhash_argon2id_MEMLIMIT_MIN);
static_assert(kArgon2OpsLimitInteractive == crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE);
static_assert(kArgon2MemLimitInteractive == crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE);
static_assert(kKeyFileMaxMemLimit == crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE);

constexpr absl::string_view kMagic = "trialog-key-v1";
constexpr absl::string_view kKdfName = "argon2id13";
constexpr size_t kMaxNameSize = 256;
constexpr size_t kSaltSize = crypto_pwhash_SALTBYTES;                // 16
constexpr size_t kNonceSize = crypto_secretbox_NONCEBYTES;           // 24
constexpr size_t kBoxKeySize = crypto_secretbox_KEYBYTES;            // 32
constexpr size_t kPlainSize = kSeedSize + kSha256Size;               // 64
constexpr size_t kBoxSize = crypto_secretbox_MACBYTES + kPlainSize;  // 80
constexpr off_t kMaxFileSize = 4096;                                 // a v1 file is about 330 bytes
static_assert(crypto_pwhash_SALTBYTES == 16 && crypto_secretbox_NONCEBYTES == 24 &&
              crypto_secretbox_KEYBYTES == 32 && crypto_secretbox_MACBYTES == 16);

const unsigned char* U(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// Fixed-size secret buffer, wiped when it goes out of scope.
template <size_t N>
struct SecretBytes {
  std::array<unsigned char, N> b{};
  ~SecretBytes() { sodium_memzero(b.data(), b.size()); }
};

// Closes a file descriptor on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

absl::Status ErrnoError(int err, absl::string_view what, const std::string& path) {
  return absl::ErrnoToStatus(err, absl::StrCat(what, " ", path));
}

absl::Status CheckName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxNameSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("key name must be 1 to ", kMaxNameSize, " bytes, got ", name.size()));
  }
  for (char c : name) {
    if (c < 0x21 || c > 0x7E || c == '+') {
      return absl::InvalidArgumentError("key name must be printable ASCII without spaces or '+'");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckParams(unsigned long long opslimit, size_t memlimit) {
  if (opslimit < kArgon2OpsLimitMin || opslimit > kKeyFileMaxOpsLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("Argon2id opslimit ", opslimit, " is outside 1..", kKeyFileMaxOpsLimit));
  }
  if (memlimit < kArgon2MemLimitMin || memlimit > kKeyFileMaxMemLimit) {
    return absl::InvalidArgumentError(absl::StrCat("Argon2id memlimit ", memlimit, " is outside ",
                                                   kArgon2MemLimitMin, "..", kKeyFileMaxMemLimit,
                                                   " bytes"));
  }
  return absl::OkStatus();
}

// Derives the secretbox key from the passphrase.
absl::Status DeriveKey(absl::string_view passphrase, absl::string_view salt,
                       unsigned long long opslimit, size_t memlimit,
                       SecretBytes<kBoxKeySize>* key) {
  if (crypto_pwhash(key->b.data(), key->b.size(), passphrase.data(), passphrase.size(), U(salt),
                    opslimit, memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("Argon2id could not allocate ", memlimit, " bytes"));
  }
  return absl::OkStatus();
}

// Strict decimal without sign or leading zeros.
bool ParseDecimal(absl::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19 || (s.size() > 1 && s[0] == '0')) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return absl::SimpleAtoi(s, out);
}

struct KeyFileContents {
  std::string header;  // lines 1-4 with their "\n": what the box's hash covers
  std::string name;
  std::string public_key;
  uint64_t opslimit = 0;
  uint64_t memlimit = 0;
  std::string salt;
  std::string nonce;
  std::string box;
};

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("not a valid trialog key file: ", what));
}

// Decodes `b64` that must hold exactly `size` bytes.
absl::StatusOr<std::string> DecodeField(absl::string_view b64, size_t size,
                                        absl::string_view field) {
  absl::StatusOr<std::string> raw = Base64Decode(b64);
  if (!raw.ok()) return Malformed(absl::StrCat(field, " is not canonical standard base64"));
  if (raw->size() != size) {
    return Malformed(absl::StrCat(field, " is ", raw->size(), " bytes, expected ", size));
  }
  return raw;
}

absl::StatusOr<KeyFileContents> ParseKeyFile(absl::string_view data) {
  if (data.empty() || data.back() != '\n') return Malformed("does not end with a newline");
  std::vector<absl::string_view> lines = absl::StrSplit(data.substr(0, data.size() - 1), '\n');
  if (lines.size() != 5) return Malformed(absl::StrCat(lines.size(), " lines, expected 5"));
  if (lines[0] != kMagic) return Malformed("line 1 is not \"trialog-key-v1\"");

  KeyFileContents kf;
  kf.header = std::string(data.substr(0, data.size() - lines[4].size() - 1));
  const auto field = [&](size_t i, absl::string_view tag) -> absl::StatusOr<absl::string_view> {
    absl::string_view line = lines[i];
    if (line.substr(0, tag.size()) != tag) {
      return Malformed(absl::StrCat("line ", i + 1, " does not start with \"", tag, "\""));
    }
    return line.substr(tag.size());
  };

  TRIALOG_ASSIGN_OR_RETURN(absl::string_view name, field(1, "name "));
  if (absl::Status s = CheckName(name); !s.ok()) return Malformed(s.message());
  kf.name = std::string(name);

  TRIALOG_ASSIGN_OR_RETURN(absl::string_view pub, field(2, "public "));
  TRIALOG_ASSIGN_OR_RETURN(kf.public_key, DecodeField(pub, kPublicKeySize, "public key"));

  TRIALOG_ASSIGN_OR_RETURN(absl::string_view kdf, field(3, "kdf "));
  std::vector<absl::string_view> parts = absl::StrSplit(kdf, ' ');
  if (parts.size() != 4 || parts[0] != kKdfName) {
    return Malformed("line 4 is not \"kdf argon2id13 <opslimit> <memlimit> <salt>\"");
  }
  if (!ParseDecimal(parts[1], &kf.opslimit) || !ParseDecimal(parts[2], &kf.memlimit)) {
    return Malformed("Argon2id limits are not decimal numbers without leading zeros");
  }
  if (absl::Status s = CheckParams(kf.opslimit, kf.memlimit); !s.ok()) {
    return Malformed(s.message());
  }
  TRIALOG_ASSIGN_OR_RETURN(kf.salt, DecodeField(parts[3], kSaltSize, "salt"));

  TRIALOG_ASSIGN_OR_RETURN(absl::string_view sealed, field(4, "sealed "));
  TRIALOG_ASSIGN_OR_RETURN(std::string raw, DecodeField(sealed, kNonceSize + kBoxSize, "sealed"));
  kf.nonce = raw.substr(0, kNonceSize);
  kf.box = raw.substr(kNonceSize);
  return kf;
}

absl::StatusOr<KeyFileContents> ReadAndParse(const std::string& path) {
  Fd in{open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (in.fd < 0) return ErrnoError(errno, "cannot open key file", path);
  struct stat st;
  if (fstat(in.fd, &st) != 0) return ErrnoError(errno, "cannot stat key file", path);
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a regular file"));
  }
  if (st.st_size > kMaxFileSize) return Malformed(absl::StrCat(st.st_size, " bytes is too large"));
  std::string data(static_cast<size_t>(kMaxFileSize) + 1, '\0');
  size_t got = 0;
  while (got < data.size()) {
    const ssize_t n = read(in.fd, data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(errno, "cannot read key file", path);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > static_cast<size_t>(kMaxFileSize)) return Malformed("too large");
  data.resize(got);
  return ParseKeyFile(data);
}

absl::Status WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "cannot write key file");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Writes `data` to a new temporary file beside `path`, then links it to
// `path` (link() fails with EEXIST instead of replacing) and removes the
// temporary name.
absl::Status CreateFileExclusive(const std::string& path, absl::string_view data) {
  const std::string tmp = absl::StrCat(path, ".tmp-", HexEncode(RandomBytes(8)));
  Fd out{open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)};
  if (out.fd < 0) return ErrnoError(errno, "cannot create", tmp);
  absl::Status status = absl::OkStatus();
  if (fchmod(out.fd, 0600) != 0) status = ErrnoError(errno, "cannot chmod", tmp);
  if (status.ok()) status = WriteAll(out.fd, data);
  if (status.ok() && fsync(out.fd) != 0) status = ErrnoError(errno, "cannot fsync", tmp);
  if (close(out.fd) != 0 && status.ok()) status = ErrnoError(errno, "cannot close", tmp);
  out.fd = -1;
  if (status.ok() && link(tmp.c_str(), path.c_str()) != 0) {
    status = errno == EEXIST
                 ? absl::AlreadyExistsError(absl::StrCat("key file ", path, " already exists"))
                 : ErrnoError(errno, "cannot link key file to", path);
  }
  unlink(tmp.c_str());
  if (!status.ok()) return status;
  // Make the new directory entry durable too.
  Fd dir{open(DirectoryOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (dir.fd >= 0) fsync(dir.fd);
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteKeyFile(const std::string& path, absl::string_view name, const SigningKey& key,
                          absl::string_view passphrase, KeyFileParams params) {
  TRIALOG_RETURN_IF_ERROR(CheckName(name));
  if (passphrase.empty()) return absl::InvalidArgumentError("empty passphrase");
  TRIALOG_RETURN_IF_ERROR(CheckParams(params.opslimit, params.memlimit));
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {  // fail before the costly KDF; link() re-checks
    return absl::AlreadyExistsError(absl::StrCat("key file ", path, " already exists"));
  }
  TRIALOG_RETURN_IF_ERROR(Init());

  const std::string salt = RandomBytes(kSaltSize);
  const std::string nonce = RandomBytes(kNonceSize);
  const std::string header = absl::StrCat(
      kMagic, "\n", "name ", name, "\n", "public ", Base64Encode(key.public_key()), "\n", "kdf ",
      kKdfName, " ", params.opslimit, " ", params.memlimit, " ", Base64Encode(salt), "\n");

  SecretBytes<kBoxKeySize> box_key;
  TRIALOG_RETURN_IF_ERROR(DeriveKey(passphrase, salt, params.opslimit, params.memlimit, &box_key));
  SecretBytes<kPlainSize> plain;
  {
    std::string seed = key.seed();
    std::copy(seed.begin(), seed.end(), plain.b.begin());
    Wipe(&seed);
  }
  const std::string header_hash = Sha256(header);
  std::copy(header_hash.begin(), header_hash.end(), plain.b.begin() + kSeedSize);
  std::string box(kBoxSize, '\0');
  crypto_secretbox_easy(reinterpret_cast<unsigned char*>(box.data()), plain.b.data(),
                        plain.b.size(), U(nonce), box_key.b.data());

  const std::string contents =
      absl::StrCat(header, "sealed ", Base64Encode(absl::StrCat(nonce, box)), "\n");
  return CreateFileExclusive(path, contents);
}

absl::StatusOr<std::string> ReadKeyFilePublicKey(const std::string& path) {
  TRIALOG_ASSIGN_OR_RETURN(KeyFileContents kf, ReadAndParse(path));
  return kf.public_key;
}

absl::StatusOr<std::string> ReadKeyFileName(const std::string& path) {
  TRIALOG_ASSIGN_OR_RETURN(KeyFileContents kf, ReadAndParse(path));
  return kf.name;
}

absl::StatusOr<SigningKey> LoadKeyFile(const std::string& path, absl::string_view passphrase) {
  TRIALOG_ASSIGN_OR_RETURN(KeyFileContents kf, ReadAndParse(path));
  TRIALOG_RETURN_IF_ERROR(Init());
  SecretBytes<kBoxKeySize> box_key;
  TRIALOG_RETURN_IF_ERROR(DeriveKey(passphrase, kf.salt, kf.opslimit, kf.memlimit, &box_key));
  SecretBytes<kPlainSize> plain;
  if (crypto_secretbox_open_easy(plain.b.data(), U(kf.box), kf.box.size(), U(kf.nonce),
                                 box_key.b.data()) != 0) {
    return absl::PermissionDeniedError("wrong passphrase or damaged key file");
  }
  const absl::string_view seed(reinterpret_cast<const char*>(plain.b.data()), kSeedSize);
  const absl::string_view header_hash(reinterpret_cast<const char*>(plain.b.data()) + kSeedSize,
                                      kSha256Size);
  TRIALOG_ASSIGN_OR_RETURN(SigningKey key, SigningKey::FromSeed(seed));
  if (key.public_key() != kf.public_key) {
    return absl::DataLossError(absl::StrCat(
        "key file ", path, ": the public key does not belong to the sealed private key"));
  }
  if (Sha256(kf.header) != header_hash) {
    return absl::DataLossError(absl::StrCat(
        "key file ", path, ": name or KDF parameters were altered after the key was sealed"));
  }
  return key;
}

void Wipe(std::string* secret) { sodium_memzero(secret->data(), secret->size()); }

}  // namespace trialog::crypto
