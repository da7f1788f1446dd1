// The benchmark's target chart (tools/bench/target_chart.h): every bar's
// geometry is read back from the SVG and checked against the ratio it was
// given, using the scale the SVG itself states; the document must be
// well-formed XML (xmllint, when installed).

#include "tools/bench/target_chart.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <regex>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace trialog::bench {
namespace {

double Attribute(const std::string& element, const std::string& name) {
  std::smatch m;
  const std::regex re(" " + name + "=\"([-0-9.e+]+)\"");
  if (!std::regex_search(element, m, re)) {
    ADD_FAILURE() << "no " << name << " in " << element;
    return std::numeric_limits<double>::quiet_NaN();
  }
  return std::stod(m[1].str());
}

std::vector<std::string> Matches(const std::string& text, const std::string& pattern) {
  std::vector<std::string> out;
  const std::regex re(pattern);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it) {
    out.push_back(it->str());
  }
  return out;
}

// xmllint's verdict on `svg` as a file; true when xmllint is not installed.
bool WellFormed(const std::string& svg) {
  if (std::system("command -v xmllint >/dev/null 2>&1") != 0) return true;
  char path[] = "/tmp/target-chart-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return false;
  std::ofstream(path) << svg;
  const int rc = std::system((std::string("xmllint --noout ") + path).c_str());
  std::remove(path);
  return rc == 0;
}

TEST(TargetChart, BarLengthsFollowTheRatiosOnTheStatedScale) {
  const std::vector<TargetBar> bars = {
      {"unary Append, 16 clients", 0.38, false, "2,270 appends/s vs ≥ 6,000/s"},
      {"trialogd RSS, 10000000 entries", 1.22, true, "235 MiB vs ≤ 300 MB"},
      {"restart", 0.6, false, "1.67 s vs ≤ 1 s"},
  };
  const std::string svg = TargetChartSvg("run", "sub", bars);
  ASSERT_TRUE(WellFormed(svg)) << svg;
  const std::string root = Matches(svg, "<svg [^>]*>").at(0);
  const double px = Attribute(root, "data-px-per-unit");
  const double x0 = Attribute(root, "data-x0");
  ASSERT_GT(px, 0);

  const std::vector<std::string> groups = Matches(svg, "<g class=\"bar\"[^>]*>.*?</g>");
  ASSERT_EQ(groups.size(), bars.size());
  for (size_t i = 0; i < bars.size(); ++i) {
    SCOPED_TRACE(bars[i].label);
    EXPECT_NEAR(Attribute(groups[i], "data-ratio"), bars[i].ratio, 1e-4);
    EXPECT_NE(groups[i].find(bars[i].met ? "data-met=\"true\"" : "data-met=\"false\""),
              std::string::npos);
    const std::string rect = Matches(groups[i], "<rect [^>]*>").at(0);
    EXPECT_NEAR(Attribute(rect, "x"), x0, 0.05);
    EXPECT_NEAR(Attribute(rect, "width"), bars[i].ratio * px, 0.1);
    EXPECT_NE(rect.find(bars[i].met ? "#1b7837" : "#e08214"), std::string::npos);
    EXPECT_NE(groups[i].find(bars[i].label), std::string::npos);
    EXPECT_EQ(groups[i].find("class=\"beyond\""), std::string::npos);  // all within the axis
  }
  // Bars are drawn top to bottom in the order given.
  double last_y = -1;
  for (const std::string& g : groups) {
    const double y = Attribute(Matches(g, "<rect [^>]*>").at(0), "y");
    EXPECT_GT(y, last_y);
    last_y = y;
  }
  // The target line sits at ratio 1.
  const std::vector<std::string> target = Matches(svg, "<line [^>]*class=\"target\"[^>]*>");
  ASSERT_EQ(target.size(), 1u);
  EXPECT_NEAR(Attribute(target[0], "x1"), x0 + px, 0.1);
}

TEST(TargetChart, ARatioBeyondTheAxisEndsInAnArrowAtTheAxisEnd) {
  const std::string svg =
      TargetChartSvg("run", "sub", {{"proof", 0.5, false, "a"}, {"restart", 25.0, true, "b"}});
  ASSERT_TRUE(WellFormed(svg));
  const std::string root = Matches(svg, "<svg [^>]*>").at(0);
  const double px = Attribute(root, "data-px-per-unit");
  const std::vector<std::string> groups = Matches(svg, "<g class=\"bar\"[^>]*>.*?</g>");
  ASSERT_EQ(groups.size(), 2u);
  const double short_width = Attribute(Matches(groups[0], "<rect [^>]*>").at(0), "width");
  const double long_width = Attribute(Matches(groups[1], "<rect [^>]*>").at(0), "width");
  EXPECT_NEAR(short_width, 0.5 * px, 0.1);
  EXPECT_NEAR(long_width, 3.0 * px, 0.1);  // the axis stops at 3
  EXPECT_NE(groups[1].find("class=\"beyond\""), std::string::npos);
  EXPECT_NEAR(Attribute(groups[1], "data-ratio"), 25.0, 1e-4);  // the true ratio is kept
}

TEST(TargetChart, LabelsAreEscaped) {
  const std::string svg =
      TargetChartSvg("a <b> & \"c\"", "<sub>", {{"x<y & z", 1.0, true, "\"q\""}});
  EXPECT_TRUE(WellFormed(svg)) << svg;
  EXPECT_NE(svg.find("x&lt;y &amp; z"), std::string::npos);
  EXPECT_NE(svg.find("&quot;q&quot;"), std::string::npos);
  EXPECT_NE(svg.find("&lt;sub&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("x<y"), std::string::npos);
}

TEST(TargetChart, NothingMeasuredSaysSo) {
  const std::string svg = TargetChartSvg("run", "sub", {});
  EXPECT_TRUE(WellFormed(svg));
  EXPECT_NE(svg.find("no target was measured"), std::string::npos);
  EXPECT_EQ(svg.find("class=\"bar\""), std::string::npos);
}

}  // namespace
}  // namespace trialog::bench
