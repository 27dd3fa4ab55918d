#include <gtest/gtest.h>

#include "common/text.hpp"
#include "report/report.hpp"
#include "test_util.hpp"

using namespace sedenergy;

namespace {
int count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}
}  // namespace

TEST(Report, CsvAndHtmlFromAStore) {
  auto dir = test::temp_dir();
  store::Store db((dir / "r.db").string());
  store::SessionRecord s;
  s.started_at = "2026-11-27T00:00:00Z";
  s.hostname = "host<1>";
  auto id = db.begin_session(s);
  const char* configs[] = {"mlp:1x512", "cnn:2x128", "rnn:1x128", "crnn:1x1:64x64"};
  const char* families[] = {"MLP", "CNN", "RNN", "CRNN"};
  for (int i = 0; i < 4; ++i) {
    store::RunRecord r;
    r.session_id = id;
    r.config = configs[i];
    r.family = families[i];
    r.params = 1000 * (i + 1);
    r.train_flops_per_epoch = 1e9 * (i + 1);
    r.test_flops_per_epoch = 3e8 * (i + 1);
    for (const char* phase : {"train", "test"}) {
      store::PhaseRecord p;
      p.phase = phase;
      p.epochs = 2;
      p.energy_j = 10.0 * (i + 1);
      p.cpu_energy_j = p.energy_j;
      p.estimated = true;
      p.cpu_method = "estimated";
      r.phases.push_back(p);
    }
    db.add_run(r);
  }
  store::RunRecord failed;
  failed.session_id = id;
  failed.config = "mlp:32x4096";
  failed.family = "MLP";
  failed.status = "failed";
  failed.error = "out of memory";
  db.add_run(failed);

  auto files = report::write_report(db, (dir / "report").string());
  auto csv = split(test::read_text(files.csv), '\n');
  EXPECT_EQ(csv.size(), 1u + 9u + 1u);  // header, 8 phases + 1 failed run, trailing newline
  EXPECT_NE(csv[0].find("energy_j"), std::string::npos);
  auto html = test::read_text(files.html);
  EXPECT_EQ(count(html, "<svg class=\"chart\""), 2);
  EXPECT_EQ(count(html, "data-points=\"4\""), 2);  // four families in each phase
  EXPECT_EQ(count(html, "class=\"pt\""), 8);
  EXPECT_NE(html.find("ESTIMATED"), std::string::npos);
  EXPECT_NE(html.find("host&lt;1&gt;"), std::string::npos);  // escaped
  EXPECT_NE(html.find("failed: out of memory"), std::string::npos);
}

TEST(Report, EmptyDatabaseStillGivesAReadableReport) {
  auto dir = test::temp_dir();
  store::Store db((dir / "empty.db").string());
  auto files = report::write_report(db, (dir / "out").string());
  auto html = test::read_text(files.html);
  EXPECT_NE(html.find("no positive data to plot"), std::string::npos);
  EXPECT_EQ(html.find("nan"), std::string::npos);
}
