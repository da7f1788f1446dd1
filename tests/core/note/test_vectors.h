// Helpers for the note tests: loading /work/shared/vectors files.

#ifndef TRIALOG_TESTS_CORE_NOTE_TEST_VECTORS_H_
#define TRIALOG_TESTS_CORE_NOTE_TEST_VECTORS_H_

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/note/keys.h"
#include "core/util/bytes.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace trialog::note::testing {

inline std::string VectorPath(const std::string& relative) {
  return std::string(TRIALOG_VECTORS_DIR) + "/" + relative;
}

// Raw bytes of a vector file; empty (and a test failure) if missing.
inline std::string ReadVectorFile(const std::string& relative) {
  std::ifstream in(VectorPath(relative), std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing vector file " << relative;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline nlohmann::json LoadJson(const std::string& relative) {
  return nlohmann::json::parse(ReadVectorFile(relative));
}

inline std::string Unhex(const std::string& hex) {
  auto bytes = HexDecode(hex);
  EXPECT_TRUE(bytes.ok()) << hex;
  return bytes.ok() ? *bytes : std::string();
}

// Parses every "verifierKeys" string of a vector entry; fails the test on error.
inline std::vector<Verifier> KnownKeys(const nlohmann::json& entry) {
  std::vector<Verifier> out;
  for (const auto& vkey : entry["verifierKeys"]) {
    absl::StatusOr<Verifier> v = ParseVerifierKey(vkey.get<std::string>());
    EXPECT_TRUE(v.ok()) << vkey << ": " << v.status();
    if (v.ok()) out.push_back(*v);
  }
  return out;
}

}  // namespace trialog::note::testing

#endif  // TRIALOG_TESTS_CORE_NOTE_TEST_VECTORS_H_
