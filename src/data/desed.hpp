// DESED dataset format: the 10 classes, the TSV metadata files, and dataset folders.
#pragma once
#include <array>
#include <cstdint>
#include <utility>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace sedenergy::data {

inline constexpr std::array<std::string_view, 10> kClasses = {
    "Alarm_bell_ringing", "Blender", "Cat", "Dishes", "Dog",
    "Electric_shaver_toothbrush", "Frying", "Running_water", "Speech", "Vacuum_cleaner"};
inline constexpr int kNumClasses = static_cast<int>(kClasses.size());

// Index of a class name, or -1.
int class_index(std::string_view name);

struct StrongEvent {
  double onset_s = 0;
  double offset_s = 0;
  int label = -1;
};

struct Clip {
  std::string filename;               // relative to the audio folder
  std::vector<int> labels;            // weak (clip-level) labels, class indices, sorted, unique
  std::vector<StrongEvent> events;    // strong labels when known
};

// Rows of a TSV that could not be read, when the caller skips them rather than stopping (--on-error
// skip): "file:line: why" for each, and the clips they name, which are left out whole (a clip with one
// unreadable event would otherwise train on part of its labels).
struct BadRows {
  std::vector<std::string> messages;
  std::set<std::string> clips;
};

// Reads a weak TSV (`filename<TAB>event_labels`). Throws InputError naming file and line, or, given
// `bad`, records the row there, leaves its clip out and goes on.
std::vector<Clip> read_weak_tsv(const std::string& path, BadRows* bad = nullptr);
// Reads a strong TSV (`filename<TAB>onset<TAB>offset<TAB>event_label`); clips keep file order and
// get weak labels derived from their events. Errors as read_weak_tsv.
std::vector<Clip> read_strong_tsv(const std::string& path, BadRows* bad = nullptr);
// Reads a durations TSV (`filename<TAB>duration`).
std::map<std::string, double> read_durations_tsv(const std::string& path);

void write_weak_tsv(const std::string& path, const std::vector<Clip>& clips);
void write_strong_tsv(const std::string& path, const std::vector<Clip>& clips);
void write_durations_tsv(const std::string& path, const std::vector<std::pair<std::string, double>>& d);

// Rejects names that are absolute or escape the dataset folder ("../x.wav").
void check_relative_name(const std::string& name, const std::string& tsv, std::size_t line);

// A DESED-format dataset folder: audio directory + metadata TSV.
struct DatasetPaths {
  std::string root;
  std::string audio_dir;
  std::string weak_tsv;    // may be empty when only strong labels exist
  std::string strong_tsv;  // may be empty
};

// Finds the training set in a DESED root: audio/train/weak + metadata/train/weak.tsv (or a strong
// TSV beside it). Throws InputError explaining what was looked for, naming `option` (the folder's option).
DatasetPaths locate_train_set(const std::string& root, const std::string& option = "--data");

enum class OnError { kStop, kSkip };

// Any folder of audio plus one TSV (weak, strong or unlabeled; the header tells which), e.g. DESED's
// audio/validation/validation + metadata/validation/validation.tsv.
DatasetPaths dataset_from_tsv(const std::string& audio_dir, const std::string& tsv, const std::string& option = "--data");

// `--data DIR` alone: a DESED root; with `--tsv FILE`: DIR is the audio folder that TSV describes.
// `option` names the folder's option in messages ("--data", "--test-data").
DatasetPaths open_dataset(const std::string& dir, const std::string& tsv, const std::string& option = "--data");

// Loads the clip list of a dataset. Every row must be readable, every listed audio file must exist and
// every audio file in the folder must be listed; with OnError::kSkip such clips are left out and described
// in `problems` instead.
std::vector<Clip> load_clips(const DatasetPaths& paths, OnError on_error = OnError::kStop,
                             std::vector<std::string>* problems = nullptr);

// A seeded split: `fraction` of the clips (at least one, at most all but one) go to the second list.
// `option` names the option it serves in the errors (--holdout, --validation).
std::pair<std::vector<Clip>, std::vector<Clip>> split_holdout(const std::vector<Clip>& clips, double fraction,
                                                             std::uint64_t seed, const std::string& option = "--holdout");

}  // namespace sedenergy::data
