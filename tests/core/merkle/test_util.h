// Helpers shared by the merkle tests: vector loading and decoding.

#ifndef TRIALOG_TESTS_CORE_MERKLE_TEST_UTIL_H_
#define TRIALOG_TESTS_CORE_MERKLE_TEST_UTIL_H_

#include <fstream>
#include <string>
#include <vector>

#include "core/util/bytes.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace trialog::merkle::testing {

inline std::string VectorPath(const std::string& relative) {
  return std::string(TRIALOG_VECTORS_DIR) + "/merkle/" + relative;
}

// Parses a vector file under /work/shared/vectors/merkle; a missing or
// unparsable file fails the calling test (and yields null).
inline nlohmann::json LoadJson(const std::string& relative) {
  std::ifstream in(VectorPath(relative));
  EXPECT_TRUE(in.good()) << "missing vector file " << VectorPath(relative);
  if (!in.good()) return nlohmann::json();
  return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
}

inline std::string Unhex(const std::string& hex) {
  absl::StatusOr<std::string> bytes = HexDecode(hex);
  EXPECT_TRUE(bytes.ok()) << "bad hex in vector: " << hex;
  return bytes.ok() ? *bytes : std::string();
}

inline std::string Unbase64(const std::string& text) {
  absl::StatusOr<std::string> bytes = Base64Decode(text);
  EXPECT_TRUE(bytes.ok()) << "bad base64 in vector: " << text;
  return bytes.ok() ? *bytes : std::string();
}

// A JSON list of base64 hashes (null counts as empty).
inline std::vector<std::string> Base64List(const nlohmann::json& list) {
  std::vector<std::string> out;
  if (list.is_null()) return out;
  for (const auto& item : list) out.push_back(Unbase64(item.get<std::string>()));
  return out;
}

// A JSON list of hex hashes.
inline std::vector<std::string> HexList(const nlohmann::json& list) {
  std::vector<std::string> out;
  for (const auto& item : list) out.push_back(Unhex(item.get<std::string>()));
  return out;
}

inline std::vector<std::string> ToHex(const std::vector<std::string>& hashes) {
  std::vector<std::string> out;
  for (const std::string& h : hashes) out.push_back(HexEncode(h));
  return out;
}

}  // namespace trialog::merkle::testing

#endif  // TRIALOG_TESTS_CORE_MERKLE_TEST_UTIL_H_
