#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "common/error.hpp"
#include "store/store.hpp"

namespace sedenergy::cli {

void setup_merge(CLI::App& app, int& exit_code) {
  auto out = std::make_shared<std::string>();
  auto inputs = std::make_shared<std::vector<std::string>>();
  auto* sub = app.add_subcommand("merge",
                                 "Merge results databases (shards of a sweep, other machines) into one, without "
                                 "duplicates.\nExample: sedenergy merge all.db shard1/results.db shard2/results.db");
  sub->add_option("output", *out, "database to merge into (created when absent)")->required();
  sub->add_option("inputs", *inputs, "databases to merge in")->required();
  sub->callback([=, &exit_code] {
    for (const auto& in : *inputs) {
      if (!std::filesystem::is_regular_file(in)) throw InputError("merge: database '" + in + "' does not exist");
      std::error_code ec;
      if (std::filesystem::equivalent(in, *out, ec)) throw InputError("merge: '" + in + "' is the output itself");
    }
    // An output this merge creates is removed again if the merge fails: no empty database left behind.
    const bool created = !std::filesystem::exists(*out);
    try {
      store::Store db(*out);
      for (const auto& in : *inputs) {
        int added = db.merge_from(in);
        std::cout << in << ": " << added << " runs added\n";
      }
      std::cout << *out << ": " << db.run_count() << " runs in " << db.sessions().size() << " sessions\n";
      db.settle();  // one file to copy on
    } catch (...) {
      std::error_code ec;
      for (const char* suffix : {"", "-wal", "-shm"}) {
        if (created) std::filesystem::remove(*out + suffix, ec);
      }
      throw;
    }
    exit_code = 0;
  });
}

}  // namespace sedenergy::cli
