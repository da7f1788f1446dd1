// The report rendered by headless Chromium (Debian's chromium package) to
// a PNG screenshot, which is decoded here (zlib) and checked not to be
// blank: enough non-white pixels, many colours, and the plots' response
// colours present (so the inline SVG was drawn). A blank page run through
// the same check fails it. Skipped, saying why, when chromium is absent.

#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/export/report_fixture.h"
#include "tests/export/test_ledger.h"
#include "tests/export/test_util.h"

namespace trialog::export_test {
namespace {

struct Image {
  uint32_t width = 0, height = 0;
  std::vector<uint8_t> rgb;  // 3 bytes per pixel
  std::string error;
};

uint32_t Be32(const std::string& s, size_t at) {
  return (uint32_t{static_cast<uint8_t>(s[at])} << 24) | (uint32_t{static_cast<uint8_t>(s[at + 1])} << 16) |
         (uint32_t{static_cast<uint8_t>(s[at + 2])} << 8) | uint32_t{static_cast<uint8_t>(s[at + 3])};
}

// A minimal PNG decoder (8-bit RGB / RGBA, non-interlaced: what Chromium writes).
Image DecodePng(const std::string& png) {
  Image img;
  if (png.size() < 8 || png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) {
    img.error = "not a PNG";
    return img;
  }
  std::string idat;
  int channels = 0;
  for (size_t pos = 8; pos + 12 <= png.size();) {
    const uint32_t len = Be32(png, pos);
    const std::string type = png.substr(pos + 4, 4);
    if (pos + 12 + len > png.size()) break;
    if (type == "IHDR") {
      img.width = Be32(png, pos + 8);
      img.height = Be32(png, pos + 12);
      const int depth = static_cast<uint8_t>(png[pos + 16]);
      const int color = static_cast<uint8_t>(png[pos + 17]);
      const int interlace = static_cast<uint8_t>(png[pos + 20]);
      if (depth != 8 || (color != 2 && color != 6) || interlace != 0) {
        img.error = absl::StrCat("unsupported PNG: depth ", depth, " colour type ", color);
        return img;
      }
      channels = color == 2 ? 3 : 4;
    } else if (type == "IDAT") {
      idat += png.substr(pos + 8, len);
    }
    pos += 12 + len;
  }
  const size_t stride = static_cast<size_t>(img.width) * channels;
  std::vector<uint8_t> raw((stride + 1) * img.height);
  uLongf raw_len = raw.size();
  if (channels == 0 ||
      uncompress(raw.data(), &raw_len, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) != Z_OK ||
      raw_len != raw.size()) {
    img.error = "bad image data";
    return img;
  }
  std::vector<uint8_t> cur(stride), prev(stride, 0);
  img.rgb.reserve(static_cast<size_t>(img.width) * img.height * 3);
  for (uint32_t y = 0; y < img.height; ++y) {
    const uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* line = &raw[y * (stride + 1) + 1];
    for (size_t i = 0; i < stride; ++i) {
      const int a = i >= static_cast<size_t>(channels) ? cur[i - channels] : 0;
      const int b = prev[i];
      const int c = i >= static_cast<size_t>(channels) ? prev[i - channels] : 0;
      int pred = 0;
      switch (filter) {
        case 0: pred = 0; break;
        case 1: pred = a; break;
        case 2: pred = b; break;
        case 3: pred = (a + b) / 2; break;
        case 4: {
          const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
          break;
        }
        default:
          img.error = "bad filter";
          return img;
      }
      cur[i] = static_cast<uint8_t>(line[i] + pred);
    }
    for (uint32_t x = 0; x < img.width; ++x) {
      for (int k = 0; k < 3; ++k) img.rgb.push_back(cur[x * channels + k]);
    }
    std::swap(cur, prev);
  }
  return img;
}

struct Census {
  double non_white = 0;  // fraction of pixels not (near) white
  size_t colours = 0;    // distinct colours (quantised to 5 bits per channel)
  std::map<std::string, size_t> hits;  // wanted colour -> pixels within tolerance
};

Census Count(const Image& img, const std::vector<std::string>& wanted) {
  Census c;
  std::set<uint32_t> distinct;
  size_t non_white = 0;
  std::vector<std::array<int, 3>> want;
  for (const std::string& hex : wanted) {
    want.push_back({std::stoi(hex.substr(1, 2), nullptr, 16), std::stoi(hex.substr(3, 2), nullptr, 16),
                    std::stoi(hex.substr(5, 2), nullptr, 16)});
    c.hits[hex] = 0;
  }
  const size_t n = img.rgb.size() / 3;
  for (size_t i = 0; i < n; ++i) {
    const int r = img.rgb[3 * i], g = img.rgb[3 * i + 1], b = img.rgb[3 * i + 2];
    if (r < 245 || g < 245 || b < 245) ++non_white;
    distinct.insert(static_cast<uint32_t>((r >> 3) << 10 | (g >> 3) << 5 | (b >> 3)));
    for (size_t k = 0; k < want.size(); ++k) {
      if (std::abs(r - want[k][0]) <= 6 && std::abs(g - want[k][1]) <= 6 && std::abs(b - want[k][2]) <= 6) {
        c.hits[wanted[k]]++;
      }
    }
  }
  c.non_white = n == 0 ? 0 : static_cast<double>(non_white) / n;
  c.colours = distinct.size();
  return c;
}

std::string ChromiumPath() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
    if (std::filesystem::exists(p)) return p;
  }
  return "";
}

// Renders `html_path` to `png_path`; the flags keep Chromium off the network.
CommandResult Screenshot(const std::string& chromium, const std::string& html_path, const std::string& png_path,
                         const std::string& profile) {
  return RunCommand(absl::StrCat(
      "timeout 120 ", ShellQuote(chromium),
      " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking"
      " --disable-component-update --disable-sync --user-data-dir=",
      ShellQuote(profile), " --window-size=1280,2200 --screenshot=", ShellQuote(png_path), " ",
      ShellQuote("file://" + html_path)));
}

const std::vector<std::string> kPlotColours = {"#1b7837", "#5aae61", "#f1a340", "#d73027"};

TEST(ReportRender, ChromiumDrawsTheReport) {
  const std::string chromium = ChromiumPath();
  if (chromium.empty()) {
    GTEST_SKIP() << "chromium is not installed: run scripts/install-deps.sh --with-chromium to render the report";
  }
  const ReportFiles& f = SharedReport();
  const std::string png = f.dir + "/report.png";
  CommandResult r = Screenshot(chromium, f.html, png, NewTempDir("chromium-profile"));
  ASSERT_TRUE(std::filesystem::exists(png)) << r.output;
  Image img = DecodePng(ReadAll(png));
  ASSERT_TRUE(img.error.empty()) << img.error;
  EXPECT_EQ(img.width, 1280u);
  EXPECT_EQ(img.height, 2200u);
  Census c = Count(img, kPlotColours);
  EXPECT_GT(c.non_white, 0.05) << "the screenshot is (nearly) blank";
  EXPECT_GT(c.colours, 40u);
  for (const auto& [colour, pixels] : c.hits) {
    // Swimmer lanes and waterfall bars of each response class are drawn.
    EXPECT_GT(pixels, 500u) << "no " << colour << " plot marks in the screenshot";
  }
  std::cout << "screenshot " << png << ": " << c.non_white * 100 << "% non-white, " << c.colours << " colours\n";
}

TEST(ReportRender, TheBlankCheckCanFail) {
  const std::string chromium = ChromiumPath();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed";
  const std::string dir = NewTempDir("blank");
  WriteAll(dir + "/blank.html", "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body></body></html>");
  CommandResult r = Screenshot(chromium, dir + "/blank.html", dir + "/blank.png", dir + "/profile");
  Image img = DecodePng(ReadAll(dir + "/blank.png"));
  ASSERT_TRUE(img.error.empty()) << img.error << r.output;
  Census c = Count(img, kPlotColours);
  EXPECT_LT(c.non_white, 0.001);
  for (const auto& [colour, pixels] : c.hits) EXPECT_EQ(pixels, 0u) << colour;
}

}  // namespace
}  // namespace trialog::export_test
