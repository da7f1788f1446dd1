// libFuzzer target: OpenNote, OpenCheckpoint, ParseCheckpoint,
// ParseVerifierKey, ParseCosignerKey, VerifyCosignatures and
// ParseGoPrivateKey on arbitrary bytes. Besides "never
// crash", it checks that whatever parses formats back to the same bytes
// (the parsers accept only canonical encodings).
//
// Build (clang only), e.g. in a separate build directory:
//   CXX=clang++ cmake -S . -B build-fuzz -G Ninja \
//     -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address -fno-omit-frame-pointer"
//   cmake --build build-fuzz --target note_open_fuzz
//   build-fuzz/tests/core/note/note_open_fuzz -max_total_time=30 CORPUS_DIR

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/note/checkpoint.h"
#include "core/note/cosignature.h"
#include "core/note/keys.h"
#include "core/note/note.h"

namespace {

using trialog::note::Verifier;

const std::vector<Verifier>& Known() {
  static const auto* known = [] {
    auto* v = new std::vector<Verifier>;
    for (const char* vkey : {
             "example.com/audit-ledger+8593ba3b+AWhAD1opqOxFcegv0SIdm3w4sBwB1XuF1yTCZDum4MET",
             "witness.example.com/w1+7107f1e4+AbfWZFgVGxEzDD/h2B8dJUjAQF83AeeytmUNLJSNOo2X",
             "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8",
             "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
         }) {
      auto parsed = trialog::note::ParseVerifierKey(vkey);
      if (!parsed.ok()) std::abort();
      v->push_back(*parsed);
    }
    return v;
  }();
  return *known;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);

  auto opened = trialog::note::OpenNote(input, Known());
  if (opened.ok() && (opened->verified.empty() || opened->text.empty() ||
                      input.compare(0, opened->text.size(), opened->text) != 0)) {
    std::abort();
  }
  (void)trialog::note::OpenCheckpoint(input, Known()[0]);

  auto checkpoint = trialog::note::ParseCheckpoint(input);
  if (checkpoint.ok() && trialog::note::FormatCheckpoint(*checkpoint) != input) std::abort();

  auto vkey = trialog::note::ParseVerifierKey(input);
  if (vkey.ok() && trialog::note::FormatVerifierKey(vkey->name, vkey->public_key) != input) {
    std::abort();
  }

  auto cosigner = trialog::note::ParseCosignerKey(input);
  if (cosigner.ok() &&
      trialog::note::FormatCosignerKey(cosigner->name, cosigner->public_key) != input) {
    std::abort();
  }
  if (opened.ok()) {
    static const std::vector<trialog::note::Cosigner> cosigners = {
        {"witness.example.com/w1",
         trialog::note::KeyIdForType("witness.example.com/w1", trialog::note::kAlgCosignatureV1,
                                     Known()[1].public_key),
         Known()[1].public_key}};
    (void)trialog::note::VerifyCosignatures(*opened, cosigners);
  }

  auto skey = trialog::note::ParseGoPrivateKey(input);
  if (skey.ok() && trialog::note::FormatGoPrivateKey(*skey) != input) std::abort();
  return 0;
}
