// The report's page and the files it writes: embedded JSON that cannot close its script, writes that never
// follow a symlink. (The analysis's questions have their tests in unit/analysis/, one file per question.)
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "common/files.hpp"
#include "report/page.hpp"
#include "test_util.hpp"

using namespace sedenergy;
using nlohmann::json;

// Names from a database in a page: no '<' reaches the embedded chart JSON ("</script>" or "<!--" would stop
// every chart), and the JSON still reads back the same.
TEST(Page, EmbeddedJsonCannotCloseOrCommentTheScript) {
  const nlohmann::json specs = {{"variant", "V<!--<script></script>"}, {"n", 1}};
  const std::string text = sedenergy::report::script_json(specs);
  EXPECT_EQ(text.find('<'), std::string::npos) << text;
  EXPECT_EQ(nlohmann::json::parse(text), specs);
}

// Files written into shared folders never go through a planted symlink: the temporary name is mkstemp's,
// and the rename replaces a symlink at the target instead of writing into what it points to.
TEST(Files, TempFileNeverWritesThroughASymlink) {
  auto dir = sedenergy::test::temp_dir();
  sedenergy::test::write_text(dir / "victim", "precious");
  std::filesystem::create_symlink(dir / "victim", dir / "cache.bin");
  {
    sedenergy::TempFile f((dir / "cache.bin").string());
    EXPECT_NE(f.path().find("cache.bin.tmp."), std::string::npos);
    f.write("new contents");
    f.commit();
  }
  EXPECT_EQ(sedenergy::test::read_text(dir / "victim"), "precious");
  EXPECT_FALSE(std::filesystem::is_symlink(dir / "cache.bin"));
  EXPECT_EQ(sedenergy::test::read_text(dir / "cache.bin"), "new contents");
  {
    sedenergy::TempFile abandoned((dir / "other").string());  // not committed: nothing left behind
    abandoned.write("x");
  }
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 2);  // victim and cache.bin
}

// A tree removed whole, depth first; a symbolic link inside it goes, what it points to stays; nothing there
// is success; a folder that cannot be emptied says why.
TEST(Files, RemoveTreeRemovesEverythingButWhatLinksPointTo) {
  auto dir = sedenergy::test::temp_dir();
  sedenergy::test::write_text(dir / "outside" / "keep.txt", "precious");
  sedenergy::test::write_text(dir / "tree" / "a" / "b" / "c.wav", "x");
  sedenergy::test::write_text(dir / "tree" / "top.tsv", "y");
  std::filesystem::create_directory_symlink(dir / "outside", dir / "tree" / "a" / "link");
  std::string why;
  EXPECT_TRUE(sedenergy::remove_tree((dir / "tree").string(), &why)) << why;
  EXPECT_FALSE(std::filesystem::exists(dir / "tree"));
  EXPECT_EQ(sedenergy::test::read_text(dir / "outside" / "keep.txt"), "precious");
  EXPECT_TRUE(sedenergy::remove_tree((dir / "tree").string()));  // already gone
  EXPECT_FALSE(sedenergy::remove_tree((dir / "outside" / "keep.txt" / "below").string(), &why));
  EXPECT_EQ(why, "Not a directory");
  sedenergy::test::write_text(dir / "locked" / "inner" / "f", "z");
  std::filesystem::permissions(dir / "locked" / "inner", std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  if (::geteuid() != 0) {  // root removes it anyway
    EXPECT_FALSE(sedenergy::remove_tree((dir / "locked").string(), &why));
    EXPECT_NE(why.find("ermission"), std::string::npos) << why;
    EXPECT_TRUE(std::filesystem::exists(dir / "locked" / "inner" / "f"));
  }
  std::filesystem::permissions(dir / "locked" / "inner", std::filesystem::perms::owner_all);
}
