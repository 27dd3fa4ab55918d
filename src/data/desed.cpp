#include "data/desed.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/text.hpp"

namespace fs = std::filesystem;

namespace sedenergy::data {

int class_index(std::string_view name) {
  for (int i = 0; i < kNumClasses; ++i) {
    if (kClasses[i] == name) return i;
  }
  return -1;
}

namespace {

// Reads a TSV with a header; calls fn(fields, line_number) for each non-empty data line. A row that
// cannot be read (too few columns, or fn throws) stops the reading, or with `bad` is recorded there.
template <typename Fn>
void for_each_tsv_row(const std::string& path, std::size_t min_columns, BadRows* bad, Fn fn) {
  std::ifstream in(path);
  if (!in) throw file_error(path, 0, "cannot open metadata file");
  std::string line;
  std::size_t n = 0;
  if (!std::getline(in, line)) throw file_error(path, 1, "empty metadata file (a header line is expected)");
  ++n;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) continue;
    auto fields = split(line, '\t');
    try {
      if (fields.size() < min_columns) {
        throw file_error(path, n, "expected " + std::to_string(min_columns) + " tab-separated columns, found " +
                                      std::to_string(fields.size()));
      }
      fn(fields, n);
    } catch (const InputError& e) {
      if (!bad) throw;
      bad->messages.push_back(e.what());
      bad->clips.insert(trim(fields[0]));
    }
  }
}

// Leaves out the clips that `bad` names.
void drop_bad_clips(std::vector<Clip>& clips, const BadRows* bad) {
  if (!bad) return;
  std::erase_if(clips, [&](const Clip& c) { return bad->clips.count(c.filename) > 0; });
}

int parse_label(const std::string& name, const std::string& path, std::size_t line) {
  int idx = class_index(trim(name));
  if (idx < 0) throw file_error(path, line, "unknown class '" + trim(name) + "'");
  return idx;
}

double parse_time(const std::string& text, const std::string& what, const std::string& path, std::size_t line) {
  double v = 0;
  if (!parse_double(trim(text), v)) throw file_error(path, line, what + " '" + text + "' is not a number");
  if (!std::isfinite(v)) throw file_error(path, line, what + " '" + text + "' is not a finite number");
  if (v < 0) throw file_error(path, line, what + " is negative (" + text + ")");
  return v;
}

}  // namespace

void check_relative_name(const std::string& name, const std::string& tsv, std::size_t line) {
  if (name.empty()) throw file_error(tsv, line, "empty file name");
  fs::path p(name);
  if (p.is_absolute()) throw file_error(tsv, line, "file name '" + name + "' is absolute");
  for (const auto& part : p) {
    if (part == "..") throw file_error(tsv, line, "file name '" + name + "' escapes the dataset folder");
  }
}

std::vector<Clip> read_weak_tsv(const std::string& path, BadRows* bad) {
  {  // A second column is the labels: one named otherwise would be read as labels, or its labels dropped.
    std::ifstream in(path);
    std::string header;
    if (in && std::getline(in, header)) {
      const auto cols = split(trim(header), '\t');
      if (cols.size() >= 2 && trim(cols[1]) != "event_labels") {
        throw file_error(path, 1, "second column is '" + trim(cols[1]) + "', expected event_labels (weak labels)");
      }
    }
  }
  std::vector<Clip> clips;
  std::set<std::string> seen;
  for_each_tsv_row(path, 1, bad, [&](const std::vector<std::string>& f, std::size_t line) {
    Clip c;
    c.filename = trim(f[0]);
    check_relative_name(c.filename, path, line);
    if (!seen.insert(c.filename).second) throw file_error(path, line, "clip '" + c.filename + "' listed twice");
    if (f.size() >= 2 && !trim(f[1]).empty()) {
      for (const auto& l : split(f[1], ',')) c.labels.push_back(parse_label(l, path, line));
    }
    std::sort(c.labels.begin(), c.labels.end());
    c.labels.erase(std::unique(c.labels.begin(), c.labels.end()), c.labels.end());
    clips.push_back(std::move(c));
  });
  drop_bad_clips(clips, bad);
  return clips;
}

std::vector<Clip> read_strong_tsv(const std::string& path, BadRows* bad) {
  std::vector<Clip> clips;
  std::map<std::string, std::size_t> index;
  for_each_tsv_row(path, 1, bad, [&](const std::vector<std::string>& f, std::size_t line) {
    std::string name = trim(f[0]);
    check_relative_name(name, path, line);
    auto it = index.find(name);
    if (it == index.end()) {
      it = index.emplace(name, clips.size()).first;
      clips.push_back(Clip{name, {}, {}});
    }
    Clip& c = clips[it->second];
    // A clip with no event has empty onset/offset/label columns; an event needs all three.
    const bool has_label = f.size() >= 4 && !trim(f[3]).empty();
    const bool has_times = (f.size() >= 2 && !trim(f[1]).empty()) || (f.size() >= 3 && !trim(f[2]).empty());
    if (has_times && !has_label) throw file_error(path, line, "an event with onset/offset but no event_label");
    if (!has_label) return;
    if (f.size() < 3 || trim(f[1]).empty() || trim(f[2]).empty()) {
      throw file_error(path, line, "event '" + trim(f[3]) + "' without its onset and offset");
    }
    StrongEvent e;
    e.onset_s = parse_time(f[1], "onset", path, line);
    e.offset_s = parse_time(f[2], "offset", path, line);
    if (e.onset_s > e.offset_s) throw file_error(path, line, "onset is after offset");
    e.label = parse_label(f[3], path, line);
    c.events.push_back(e);
    if (std::find(c.labels.begin(), c.labels.end(), e.label) == c.labels.end()) {
      c.labels.push_back(e.label);
      std::sort(c.labels.begin(), c.labels.end());
    }
  });
  drop_bad_clips(clips, bad);
  return clips;
}

std::map<std::string, double> read_durations_tsv(const std::string& path) {
  std::map<std::string, double> d;
  for_each_tsv_row(path, 2, nullptr, [&](const std::vector<std::string>& f, std::size_t line) {
    std::string name = trim(f[0]);
    check_relative_name(name, path, line);
    d[name] = parse_time(f[1], "duration", path, line);
  });
  return d;
}

namespace {
std::string label_names(const std::vector<int>& labels) {
  std::vector<std::string> names;
  for (int l : labels) names.emplace_back(kClasses[l]);
  return join(names, ",");
}
}  // namespace

void write_weak_tsv(const std::string& path, const std::vector<Clip>& clips) {
  std::ostringstream out;
  out << "filename\tevent_labels\n";
  for (const auto& c : clips) out << c.filename << '\t' << label_names(c.labels) << '\n';
  write_file(path, out.str());
}

void write_strong_tsv(const std::string& path, const std::vector<Clip>& clips) {
  std::ostringstream out;
  out << "filename\tonset\toffset\tevent_label\n" << std::fixed << std::setprecision(3);
  for (const auto& c : clips) {
    if (c.events.empty()) out << c.filename << "\t\t\t\n";
    for (const auto& e : c.events) {
      out << c.filename << '\t' << e.onset_s << '\t' << e.offset_s << '\t' << kClasses[e.label] << '\n';
    }
  }
  write_file(path, out.str());
}

void write_durations_tsv(const std::string& path, const std::vector<std::pair<std::string, double>>& d) {
  std::ostringstream out;
  out << "filename\tduration\n" << std::fixed << std::setprecision(3);
  for (const auto& [name, dur] : d) out << name << '\t' << dur << '\n';
  write_file(path, out.str());
}

DatasetPaths locate_train_set(const std::string& root, const std::string& option) {
  if (!fs::exists(root)) throw InputError(option + ": folder '" + root + "' does not exist");
  if (!fs::is_directory(root)) throw InputError(option + ": '" + root + "' is not a folder");
  DatasetPaths p;
  p.root = root;
  p.audio_dir = (fs::path(root) / "audio/train/weak").string();
  fs::path meta = fs::path(root) / "metadata/train";
  if (fs::exists(meta / "weak.tsv")) p.weak_tsv = (meta / "weak.tsv").string();
  if (fs::exists(meta / "strong.tsv")) p.strong_tsv = (meta / "strong.tsv").string();
  if (!fs::is_directory(p.audio_dir)) {
    throw InputError(option + ": '" + root + "' is not a DESED folder: audio/train/weak/ is missing");
  }
  if (p.weak_tsv.empty() && p.strong_tsv.empty()) {
    throw InputError(option + ": '" + root + "' has no metadata/train/weak.tsv (nor strong.tsv)");
  }
  return p;
}

DatasetPaths dataset_from_tsv(const std::string& audio_dir, const std::string& tsv, const std::string& option) {
  if (!fs::is_directory(audio_dir)) throw InputError(option + ": folder '" + audio_dir + "' does not exist");
  std::ifstream in(tsv);
  std::string header;
  if (!in || !std::getline(in, header)) throw file_error(tsv, 0, "cannot read metadata file");
  DatasetPaths p;
  p.root = audio_dir;
  p.audio_dir = audio_dir;
  (header.find("onset") != std::string::npos ? p.strong_tsv : p.weak_tsv) = tsv;
  return p;
}

DatasetPaths open_dataset(const std::string& dir, const std::string& tsv, const std::string& option) {
  return tsv.empty() ? locate_train_set(dir, option) : dataset_from_tsv(dir, tsv, option);
}

std::vector<Clip> load_clips(const DatasetPaths& paths, OnError on_error, std::vector<std::string>* problems) {
  std::vector<Clip> clips;
  BadRows bad_rows;
  BadRows* bad = on_error == OnError::kSkip ? &bad_rows : nullptr;
  if (!paths.weak_tsv.empty()) {
    clips = read_weak_tsv(paths.weak_tsv, bad);
    if (!paths.strong_tsv.empty()) {
      // Attach strong events to the weak clips that have them.
      auto strong = read_strong_tsv(paths.strong_tsv, bad);
      std::map<std::string, std::vector<StrongEvent>> ev;
      for (auto& s : strong) ev[s.filename] = std::move(s.events);
      for (auto& c : clips) {
        auto it = ev.find(c.filename);
        if (it != ev.end()) c.events = it->second;
      }
      drop_bad_clips(clips, bad);  // a clip whose strong rows were unreadable
    }
  } else {
    clips = read_strong_tsv(paths.strong_tsv, bad);
  }
  const std::string& tsv = paths.weak_tsv.empty() ? paths.strong_tsv : paths.weak_tsv;
  if (clips.empty() && !bad_rows.messages.empty()) throw InputError("no readable row: " + bad_rows.messages.front());
  if (clips.empty()) throw file_error(tsv, 0, "lists no clips");
  std::vector<std::string> found = bad_rows.messages;
  auto report = [&](const std::string& message) {
    if (on_error == OnError::kStop) throw file_error(tsv, 0, message + " (use --on-error skip to leave such clips out)");
    found.push_back(tsv + ": " + message);
  };
  std::vector<Clip> kept;
  std::set<std::string> listed = bad_rows.clips;  // left out, but listed: their audio is not "unlisted"
  for (auto& c : clips) {
    listed.insert(c.filename);
    if (!fs::exists(fs::path(paths.audio_dir) / c.filename)) {
      report("lists '" + c.filename + "' but " + paths.audio_dir + "/" + c.filename + " is missing");
      continue;
    }
    kept.push_back(std::move(c));
  }
  static const std::set<std::string> audio_ext = {".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff"};
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(paths.audio_dir, ec); it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file() || !audio_ext.count(it->path().extension().string())) continue;
    // Lexically: a listed clip may be a symlink to audio elsewhere (a common DESED layout); its name in the
    // dataset is what the TSV lists, not where the link points.
    std::string rel = it->path().lexically_relative(paths.audio_dir).string();
    if (!listed.count(rel)) report("does not list audio file " + (fs::path(paths.audio_dir) / rel).string());
  }
  if (kept.empty()) throw file_error(tsv, 0, "no listed clip has its audio file");
  if (problems) problems->insert(problems->end(), found.begin(), found.end());
  return kept;
}

std::pair<std::vector<Clip>, std::vector<Clip>> split_holdout(const std::vector<Clip>& clips, double fraction,
                                                             std::uint64_t seed, const std::string& option) {
  if (!(fraction > 0 && fraction < 1)) throw InputError(option + " must be in (0, 1)");
  if (clips.size() < 2) throw InputError(option + " needs at least two clips");
  std::vector<std::size_t> order(clips.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  std::size_t n_test = static_cast<std::size_t>(std::lround(fraction * clips.size()));
  n_test = std::clamp<std::size_t>(n_test, 1, clips.size() - 1);
  std::vector<bool> is_test(clips.size(), false);
  for (std::size_t i = 0; i < n_test; ++i) is_test[order[i]] = true;
  std::pair<std::vector<Clip>, std::vector<Clip>> out;
  for (std::size_t i = 0; i < clips.size(); ++i) (is_test[i] ? out.second : out.first).push_back(clips[i]);
  return out;
}

}  // namespace sedenergy::data
