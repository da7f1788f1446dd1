#include "tools/export/xml_writer.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace trialog::exporter {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

std::string Escape(absl::string_view text, bool attribute) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '&': out += "&amp;"; continue;
      case '<': out += "&lt;"; continue;
      case '>': out += "&gt;"; continue;
      case '"':
        out += attribute ? "&quot;" : "\"";
        continue;
      case '\t':
      case '\n':
      case '\r':
        if (attribute) {
          absl::StrAppend(&out, "&#", static_cast<int>(c), ";");
        } else {
          out.push_back(static_cast<char>(c));
        }
        continue;
      default:
        break;
    }
    if (c < 0x20) {
      out += kReplacement;
      continue;
    }
    // U+FFFE and U+FFFF (EF BF BE / EF BF BF) are not XML characters.
    if (c == 0xEF && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0xBF &&
        (static_cast<unsigned char>(text[i + 2]) == 0xBE || static_cast<unsigned char>(text[i + 2]) == 0xBF)) {
      out += kReplacement;
      i += 2;
      continue;
    }
    out.push_back(static_cast<char>(c));
  }
  return out;
}

}  // namespace

std::string XmlEscapeText(absl::string_view text) { return Escape(text, false); }
std::string XmlEscapeAttribute(absl::string_view text) { return Escape(text, true); }

XmlWriter::XmlWriter() { out_ = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"; }

XmlWriter::XmlWriter(bool fragment, size_t base_depth) : base_depth_(base_depth) {
  if (!fragment) out_ = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
}

void XmlWriter::Indent() { out_.append(2 * (base_depth_ + open_.size()), ' '); }

void XmlWriter::OpenTag(absl::string_view name, const XmlAttrs& attrs) {
  Indent();
  absl::StrAppend(&out_, "<", name);
  for (const XmlAttr& a : attrs) {
    if (a.omit_if_empty && a.value.empty()) continue;
    absl::StrAppend(&out_, " ", a.name, "=\"", XmlEscapeAttribute(a.value), "\"");
  }
}

void XmlWriter::Start(absl::string_view name, const XmlAttrs& attrs) {
  OpenTag(name, attrs);
  out_ += ">\n";
  open_.emplace_back(name);
}

void XmlWriter::End() {
  if (open_.empty()) return;
  std::string name = std::move(open_.back());
  open_.pop_back();
  Indent();
  absl::StrAppend(&out_, "</", name, ">\n");
}

void XmlWriter::Empty(absl::string_view name, const XmlAttrs& attrs) {
  OpenTag(name, attrs);
  out_ += "/>\n";
}

void XmlWriter::Element(absl::string_view name, absl::string_view text, const XmlAttrs& attrs) {
  OpenTag(name, attrs);
  absl::StrAppend(&out_, ">", XmlEscapeText(text), "</", name, ">\n");
}

void XmlWriter::Comment(absl::string_view text) {
  Indent();
  std::string safe(text);
  while (safe.find("--") != std::string::npos) safe = absl::StrReplaceAll(safe, {{"--", "- "}});
  absl::StrAppend(&out_, "<!-- ", safe, " -->\n");
}

}  // namespace trialog::exporter
