// A small streaming XML writer for the ODM export: elements, attributes
// and text with correct escaping, indented two spaces per level. Text is
// taken as UTF-8; characters XML 1.0 cannot carry (C0 controls other than
// tab, newline and carriage return; U+FFFE, U+FFFF) are written as U+FFFD,
// and tab, newline and carriage return inside attribute values as
// character references so that attribute normalisation keeps them. (The
// ledger's exact bytes travel in the bundle; XML is a rendering.)
//
// Thread-safety: one writer per thread.

#ifndef TRIALOG_TOOLS_EXPORT_XML_WRITER_H_
#define TRIALOG_TOOLS_EXPORT_XML_WRITER_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace trialog::exporter {

// Attributes in the order given; an attribute whose value is empty and
// marked optional is left out.
struct XmlAttr {
  absl::string_view name;
  std::string value;
  bool omit_if_empty = false;
};
using XmlAttrs = std::vector<XmlAttr>;

// `text` escaped for element content ("&", "<", ">").
std::string XmlEscapeText(absl::string_view text);
// `text` escaped for a double-quoted attribute value.
std::string XmlEscapeAttribute(absl::string_view text);

class XmlWriter {
 public:
  // Starts the document with the XML declaration (UTF-8). With
  // `fragment`, writes no declaration and indents from `base_depth`
  // (for parts assembled into a document later).
  XmlWriter();
  XmlWriter(bool fragment, size_t base_depth);

  // <name attrs> ... (closed by End()).
  void Start(absl::string_view name, const XmlAttrs& attrs = {});
  // </name> of the innermost open element.
  void End();
  // <name attrs/>.
  void Empty(absl::string_view name, const XmlAttrs& attrs = {});
  // <name attrs>text</name>.
  void Element(absl::string_view name, absl::string_view text, const XmlAttrs& attrs = {});
  // <!-- text --> ("--" in text is written as "- -").
  void Comment(absl::string_view text);

  // The document; REQUIRES: every Start() has been End()ed.
  const std::string& str() const { return out_; }
  std::string Release() { return std::move(out_); }
  size_t depth() const { return open_.size(); }

 private:
  void Indent();
  void OpenTag(absl::string_view name, const XmlAttrs& attrs);

  std::string out_;
  std::vector<std::string> open_;
  size_t base_depth_ = 0;
};

}  // namespace trialog::exporter

#endif  // TRIALOG_TOOLS_EXPORT_XML_WRITER_H_
