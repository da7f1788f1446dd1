// The synthetic trial's ODM export written once per test process, with the
// files the independent checker needs: the entries (entries.bin format)
// and the expected corrections, voids, signatures and subjects, computed
// here from the signed envelopes (not from the ODM writer).

#ifndef TRIALOG_TESTS_EXPORT_ODM_FIXTURE_H_
#define TRIALOG_TESTS_EXPORT_ODM_FIXTURE_H_

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/trial/field_path.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/export/test_ledger.h"
#include "tests/export/test_util.h"
#include "tools/export/bundle_format.h"
#include "tools/export/export_input.h"
#include "tools/export/odm.h"

namespace trialog::export_test {

struct OdmFiles {
  std::string dir, odm, entries, expected;
};

inline int64_t OdmCreationTime() {
  return SharedInput().entries.back().entry.recorded_at_unix_micros() + 86400LL * 1000000;
}

inline std::string OdmXsd() { return VectorsDir() + "/odm/odm-1.3.2/ODM1-3-2.xsd"; }

// Writes the ODM export of `in` and the checker's inputs to a new directory.
inline OdmFiles MakeOdmFiles(const exporter::ExportInput& in, const std::vector<std::string>& entry_bytes,
                             const std::string& name) {
  OdmFiles files;
  OdmFiles* f = &files;
  {
    f->dir = NewTempDir(name);
    f->odm = f->dir + "/odm.xml";
    f->entries = f->dir + "/entries.bin";
    f->expected = f->dir + "/expected.json";
    exporter::OdmOptions options;
    options.creation_unix_micros = in.entries.back().entry.recorded_at_unix_micros() + 86400LL * 1000000;
    absl::StatusOr<std::string> xml = exporter::WriteOdm132(in, options);
    EXPECT_TRUE(xml.ok()) << xml.status();
    WriteAll(f->odm, xml.ok() ? *xml : "");
    WriteAll(f->entries, *exporter::EncodeEntriesFile(entry_bytes));

    nlohmann::json expected;
    std::set<std::string> subjects;
    expected["corrections"] = nlohmann::json::array();
    expected["voids"] = nlohmann::json::array();
    int signatures = 0, records = 0;
    for (const ledger::ParsedEntry& e : in.entries) {
      const std::string subject = exporter::SubjectOfStream(e.envelope.stream_id());
      if (subject.empty() || !e.envelope.event().has_trial()) continue;
      subjects.insert(subject);
      const v1::TrialEvent& t = e.envelope.event().trial();
      if (t.has_data_corrected()) {
        expected["corrections"].push_back({{"index", e.entry.index()},
                                           {"new_value", t.data_corrected().new_value()},
                                           {"field", trial::LeafFieldName(t.data_corrected().field_path())},
                                           {"reason", e.envelope.reason()}});
      } else if (t.has_event_voided()) {
        expected["voids"].push_back(e.entry.index());
      } else if (t.has_e_signature()) {
        signatures += t.e_signature().meaning() == v1::SIG_CASEBOOK ? 1 : t.e_signature().records_size();
      } else {
        ++records;
      }
    }
    expected["subjects"] = subjects;
    expected["signatures"] = signatures;
    expected["min_inserts"] = 2 * records;  // observed_at and event_id at least
    WriteAll(f->expected, expected.dump(1));
  }
  return files;
}

inline const OdmFiles& SharedOdm() {
  static const OdmFiles* files = new OdmFiles(MakeOdmFiles(SharedInput(), SharedLedger().entries, "odm"));
  return *files;
}

}  // namespace trialog::export_test

#endif  // TRIALOG_TESTS_EXPORT_ODM_FIXTURE_H_
