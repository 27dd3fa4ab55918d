// The study's options, each declared once: its flag, its key in --config files, its type (the member of
// StudyOptions it sets), its range or choices, its help, and the name a session records it under. The
// CLI, the configuration reader and its messages, validation and the recorded configuration are all made
// from this table (issue 15: before it, each option was written in five places under three names).
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "runner/study.hpp"

namespace sedenergy::runner {

struct StudyOption {
  using Field = std::variant<int StudyOptions::*, double StudyOptions::*, std::uint64_t StudyOptions::*,
                             std::string StudyOptions::*, std::vector<int> StudyOptions::*,
                             std::vector<double> StudyOptions::*, bool StudyOptions::*>;
  std::string flag;                  // "--min-window"
  Field field;
  std::string help;
  double lo = 0, hi = 0;             // numbers, and each value of a list: [lo, hi], or (lo, hi] when open_low
  bool open_low = false;
  double automatic = NAN;            // a value meaning "decided when the study starts" (--idle -1), not range-checked
  std::vector<std::string> choices;  // strings: the values allowed (empty: any), or a number in [lo, hi] when hi > lo
  std::string record_key;            // its name in a session's recorded options (what --resume matches); "": none
  std::string old_key;               // an earlier --config key, still read, with a note
  nlohmann::json unrecorded;         // a value left out of the record (the default of an option newer than older sessions)
  bool in_config = true;             // settable from a --config file
  bool hidden = false;               // set by the study itself (the workers of --devices)

  StudyOption(std::string flag_, Field field_, std::string help_, double lo_ = 0, double hi_ = 0)
      : flag(std::move(flag_)), field(field_), help(std::move(help_)), lo(lo_), hi(hi_) {}

  // The --config key: the flag's words joined by '_' ("--min-window" -> "min_window").
  std::string key() const;
};

const std::vector<StudyOption>& study_options();

// Every number in its range and every string among its choices; throws InputError naming the flag.
void check_study_options(const StudyOptions& o);

// The recorded options of a session: {record_key: value} of each recorded option.
nlohmann::json recorded_options(const StudyOptions& o);

// Applies a --config object: each key sets its option unless `given(flag)` (the command line wins).
// Keys the table does not own go to `other(key, value)`, which returns false for a key it does not know
// either; `other_keys` are those it knows, for the message. Deprecated keys work and are noted on `notes`.
void apply_study_config(const nlohmann::json& cfg, const std::string& source, StudyOptions& o,
                        const std::function<bool(const std::string& flag)>& given,
                        const std::function<bool(const std::string& key, const nlohmann::json& value)>& other,
                        const std::vector<std::string>& other_keys, std::ostream& notes);

}  // namespace sedenergy::runner
