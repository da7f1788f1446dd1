#include "tools/export/bundle_format.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/crypto/crypto.h"
#include "core/note/note.h"
#include "core/util/bytes.h"

namespace trialog::exporter {
namespace {

void PutBigEndian32(uint32_t v, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>((v >> shift) & 0xff));
}

uint32_t GetBigEndian32(absl::string_view b) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(b[0])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(b[1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(b[2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(b[3]));
}

bool IsFileName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

// Decimal without leading zeros.
bool ParseDecimal(absl::string_view text, uint64_t* out) {
  if (text.empty() || (text.size() > 1 && text[0] == '0')) return false;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  return absl::SimpleAtoi(text, out);
}

bool HasControl(absl::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

absl::Status LineError(size_t line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("manifest line ", line, ": ", what));
}

}  // namespace

absl::StatusOr<std::string> EncodeEntriesFile(const std::vector<std::string>& entries) {
  std::string out(kEntriesMagic);
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].empty() || entries[i].size() > kMaxEntryBytes) {
      return absl::InvalidArgumentError(absl::StrCat("entry record ", i, " has ", entries[i].size(),
                                                     " bytes; records hold 1..", kMaxEntryBytes));
    }
    PutBigEndian32(static_cast<uint32_t>(entries[i].size()), &out);
    out += entries[i];
  }
  return out;
}

absl::Status ForEachEntryRecord(absl::string_view file,
                                const std::function<bool(uint64_t, absl::string_view)>& sink) {
  if (file.substr(0, kEntriesMagic.size()) != kEntriesMagic) {
    return absl::DataLossError("entries.bin: does not start with \"TRIALOG-ENTRIES-V1\\n\"");
  }
  size_t pos = kEntriesMagic.size();
  for (uint64_t n = 0; pos < file.size(); ++n) {
    if (file.size() - pos < 4) {
      return absl::DataLossError(absl::StrCat("entries.bin: record ", n, " at byte ", pos,
                                              ": truncated length prefix"));
    }
    const uint32_t len = GetBigEndian32(file.substr(pos, 4));
    if (len == 0 || len > kMaxEntryBytes) {
      return absl::DataLossError(absl::StrCat("entries.bin: record ", n, " at byte ", pos, ": length ",
                                              len, " is outside 1..", kMaxEntryBytes));
    }
    if (file.size() - pos - 4 < len) {
      return absl::DataLossError(absl::StrCat("entries.bin: record ", n, " at byte ", pos, ": length ",
                                              len, " runs past the end of the file"));
    }
    if (!sink(n, file.substr(pos + 4, len))) return absl::OkStatus();
    pos += 4 + len;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> DecodeEntriesFile(absl::string_view file) {
  std::vector<std::string> out;
  absl::Status s = ForEachEntryRecord(file, [&](uint64_t, absl::string_view e) {
    out.emplace_back(e);
    return true;
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::string> EncodeProofsFile(const std::vector<IndexedProof>& proofs) {
  std::string out(kProofsMagic);
  for (const IndexedProof& p : proofs) {
    if (p.hashes.size() > kMaxProofHashes) {
      return absl::InvalidArgumentError(absl::StrCat("proof of entry ", p.index, " has ",
                                                     p.hashes.size(), " hashes"));
    }
    out += EncodeBigEndian64(p.index);
    out += EncodeBigEndian64(p.tree_size);
    out.push_back(static_cast<char>(p.hashes.size()));
    for (const std::string& h : p.hashes) {
      if (h.size() != crypto::kSha256Size) {
        return absl::InvalidArgumentError(absl::StrCat("proof of entry ", p.index,
                                                       " holds a hash of ", h.size(), " bytes"));
      }
      out += h;
    }
  }
  return out;
}

absl::StatusOr<std::vector<IndexedProof>> DecodeProofsFile(absl::string_view file) {
  if (file.substr(0, kProofsMagic.size()) != kProofsMagic) {
    return absl::DataLossError("proofs.bin: does not start with \"TRIALOG-PROOFS-V1\\n\"");
  }
  std::vector<IndexedProof> out;
  size_t pos = kProofsMagic.size();
  while (pos < file.size()) {
    if (file.size() - pos < 17) {
      return absl::DataLossError(absl::StrCat("proofs.bin: proof ", out.size(), " at byte ", pos,
                                              ": truncated header"));
    }
    IndexedProof p;
    p.index = DecodeBigEndian64(file.substr(pos, 8));
    p.tree_size = DecodeBigEndian64(file.substr(pos + 8, 8));
    const size_t count = static_cast<uint8_t>(file[pos + 16]);
    if (count > kMaxProofHashes) {
      return absl::DataLossError(absl::StrCat("proofs.bin: proof ", out.size(), " at byte ", pos,
                                              ": ", count, " hashes (at most ", kMaxProofHashes, ")"));
    }
    pos += 17;
    if (file.size() - pos < count * crypto::kSha256Size) {
      return absl::DataLossError(absl::StrCat("proofs.bin: proof ", out.size(),
                                              ": hashes run past the end of the file"));
    }
    for (size_t i = 0; i < count; ++i) {
      p.hashes.emplace_back(file.substr(pos, crypto::kSha256Size));
      pos += crypto::kSha256Size;
    }
    out.push_back(std::move(p));
  }
  return out;
}

const ManifestFile* Manifest::Find(absl::string_view name) const {
  for (const ManifestFile& f : files) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

ManifestFile DescribeFile(absl::string_view name, absl::string_view contents) {
  return ManifestFile{std::string(name), contents.size(), crypto::Sha256(contents)};
}

absl::StatusOr<std::string> FormatManifest(const Manifest& m) {
  if (m.kind != kKindLedgerBundle && m.kind != kKindSubjectDisclosure) {
    return absl::InvalidArgumentError(absl::StrCat("manifest: unknown kind \"", m.kind, "\""));
  }
  const bool disclosure = m.kind == kKindSubjectDisclosure;
  for (absl::string_view v : {absl::string_view(m.origin), absl::string_view(m.trial_id),
                              absl::string_view(m.subject_id), absl::string_view(m.created)}) {
    if (HasControl(v)) return absl::InvalidArgumentError("manifest: a value holds a control character");
  }
  if (m.origin.empty() || m.trial_id.empty() || m.created.empty() ||
      disclosure == m.subject_id.empty()) {
    return absl::InvalidArgumentError("manifest: origin, trial, created (and subject for a "
                                      "disclosure, only then) must be set");
  }
  if (m.checkpoint_root.size() != 32 || m.head.size() != 32) {
    return absl::InvalidArgumentError("manifest: root and head must be 32 bytes");
  }
  std::string out = absl::StrCat(kManifestHeader, "\n", "kind ", m.kind, "\n", "origin ", m.origin,
                                 "\n", "trial ", m.trial_id, "\n");
  if (disclosure) absl::StrAppend(&out, "subject ", m.subject_id, "\n");
  absl::StrAppend(&out, "checkpoint-size ", m.checkpoint_size, "\n", "checkpoint-root ",
                  Base64Encode(m.checkpoint_root), "\n", "entries ", m.entries, "\n",
                  "first-index ", m.first_index, "\n", "last-index ", m.last_index, "\n", "head ",
                  HexEncode(m.head), "\n", "created ", m.created, "\n");
  if (m.files.empty()) return absl::InvalidArgumentError("manifest: no files");
  for (size_t i = 0; i < m.files.size(); ++i) {
    const ManifestFile& f = m.files[i];
    if (!IsFileName(f.name) || f.sha256.size() != 32) {
      return absl::InvalidArgumentError(absl::StrCat("manifest: bad file entry \"", f.name, "\""));
    }
    if (i > 0 && !(m.files[i - 1].name < f.name)) {
      return absl::InvalidArgumentError("manifest: files must be sorted by name and unique");
    }
    absl::StrAppend(&out, "file ", f.name, " ", f.size, " ", HexEncode(f.sha256), "\n");
  }
  // The manifest is signed as a C2SP note: valid UTF-8, no control bytes.
  if (absl::Status text_ok = note::CheckNoteText(out); !text_ok.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("manifest: ", text_ok.message()));
  }
  return out;
}

absl::StatusOr<Manifest> ParseManifest(absl::string_view text) {
  if (text.empty() || text.back() != '\n') {
    return absl::InvalidArgumentError("manifest: text must end with a newline");
  }
  text.remove_suffix(1);
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  Manifest m;
  size_t n = 0;  // current line (0-based)
  auto field = [&](absl::string_view key) -> absl::StatusOr<absl::string_view> {
    if (n >= lines.size()) return LineError(n + 1, absl::StrCat("missing \"", key, "\" line"));
    absl::string_view line = lines[n];
    const std::string prefix = absl::StrCat(key, " ");
    if (line.substr(0, prefix.size()) != prefix || line.size() == prefix.size()) {
      return LineError(n + 1, absl::StrCat("expected \"", key, " <value>\", got \"", line, "\""));
    }
    ++n;
    return line.substr(prefix.size());
  };
  auto number = [&](absl::string_view key, uint64_t* out) -> absl::Status {
    absl::StatusOr<absl::string_view> v = field(key);
    if (!v.ok()) return v.status();
    if (!ParseDecimal(*v, out)) return LineError(n, absl::StrCat(key, " is not a decimal number"));
    return absl::OkStatus();
  };
  auto hash = [&](absl::string_view key, bool base64, std::string* out) -> absl::Status {
    absl::StatusOr<absl::string_view> v = field(key);
    if (!v.ok()) return v.status();
    absl::StatusOr<std::string> raw = base64 ? Base64Decode(*v) : HexDecode(*v);
    if (!raw.ok() || raw->size() != 32 || (!base64 && HexEncode(*raw) != *v)) {
      return LineError(n, absl::StrCat(key, " is not ", base64 ? "base64" : "lower-case hex",
                                       " of 32 bytes"));
    }
    *out = *std::move(raw);
    return absl::OkStatus();
  };

  if (lines.empty() || lines[0] != kManifestHeader) {
    return LineError(1, absl::StrCat("expected \"", kManifestHeader, "\""));
  }
  n = 1;
  absl::StatusOr<absl::string_view> kind = field("kind");
  if (!kind.ok()) return kind.status();
  if (*kind != kKindLedgerBundle && *kind != kKindSubjectDisclosure) {
    return LineError(n, absl::StrCat("unknown kind \"", *kind, "\""));
  }
  m.kind = std::string(*kind);
  absl::StatusOr<absl::string_view> origin = field("origin");
  if (!origin.ok()) return origin.status();
  m.origin = std::string(*origin);
  absl::StatusOr<absl::string_view> trial = field("trial");
  if (!trial.ok()) return trial.status();
  m.trial_id = std::string(*trial);
  if (m.kind == kKindSubjectDisclosure) {
    absl::StatusOr<absl::string_view> subject = field("subject");
    if (!subject.ok()) return subject.status();
    m.subject_id = std::string(*subject);
  }
  if (absl::Status s = number("checkpoint-size", &m.checkpoint_size); !s.ok()) return s;
  if (absl::Status s = hash("checkpoint-root", true, &m.checkpoint_root); !s.ok()) return s;
  if (absl::Status s = number("entries", &m.entries); !s.ok()) return s;
  if (absl::Status s = number("first-index", &m.first_index); !s.ok()) return s;
  if (absl::Status s = number("last-index", &m.last_index); !s.ok()) return s;
  if (absl::Status s = hash("head", false, &m.head); !s.ok()) return s;
  absl::StatusOr<absl::string_view> created = field("created");
  if (!created.ok()) return created.status();
  m.created = std::string(*created);
  while (n < lines.size()) {
    absl::StatusOr<absl::string_view> v = field("file");
    if (!v.ok()) return v.status();
    std::vector<absl::string_view> parts = absl::StrSplit(*v, ' ');
    ManifestFile f;
    absl::StatusOr<std::string> sha = parts.size() == 3 ? HexDecode(parts[2]) : absl::StatusOr<std::string>();
    if (parts.size() != 3 || !IsFileName(parts[0]) || !ParseDecimal(parts[1], &f.size) ||
        !sha.ok() || sha->size() != 32 || HexEncode(*sha) != parts[2]) {
      return LineError(n, "expected \"file <name> <size> <sha256 hex>\"");
    }
    f.name = std::string(parts[0]);
    f.sha256 = *std::move(sha);
    if (!m.files.empty() && !(m.files.back().name < f.name)) {
      return LineError(n, "files must be sorted by name and unique");
    }
    m.files.push_back(std::move(f));
  }
  if (m.files.empty()) return LineError(n + 1, "no \"file\" lines");
  // Whatever the line grammar let through must also be a manifest this
  // build could have written (valid note text, no stray bytes): one
  // manifest, one encoding. Found by fuzz/bundle_fuzzer.cc.
  absl::StatusOr<std::string> canonical = FormatManifest(m);
  if (!canonical.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest: not a valid manifest: ", canonical.status().message()));
  }
  if (absl::string_view(*canonical).substr(0, canonical->size() - 1) != text) {
    return absl::InvalidArgumentError("manifest: not in canonical form");
  }
  return m;
}

}  // namespace trialog::exporter
