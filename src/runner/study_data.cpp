// The study's data: its clips (DESED, a folder with a TSV, or the seeded synthetic set), the test and
// validation sets carved from them or read apart, and their features, cached or computed per batch.
#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <tuple>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/text.hpp"
#include "data/feature_cache.hpp"
#include "data/synth.hpp"
#include "runner/study_options.hpp"
#include "runner/study_parts.hpp"

namespace fs = std::filesystem;

namespace sedenergy::runner {
namespace {

// A list of clips without any label (DESED's unlabeled_in_domain set: a file name column only) can be
// featurised, but a model trained or scored on it learns and measures nothing: the study refuses it.
void refuse_unlabelled(const std::vector<data::Clip>& clips, const data::DatasetPaths& paths, const std::string& option) {
  for (const auto& c : clips) {
    if (!c.labels.empty() || !c.events.empty()) return;
  }
  const std::string list = paths.weak_tsv.empty() ? paths.strong_tsv : paths.weak_tsv;
  throw InputError(option + ": none of the " + std::to_string(clips.size()) + " clips listed in " + list +
                   " has a label; a study needs weak (event_labels) or strong labels");
}

// No --data: the seeded synthetic DESED-format set in OUT/data, generated once and reused.
data::DatasetPaths synthetic_dataset(const StudyOptions& opt, std::ostream& log) {
  data::SynthOptions so;
  so.clips = opt.clips > 0 ? opt.clips : (opt.grid == "paper43" ? 1578 : 256);
  so.seed = opt.seed;
  const std::string root = (fs::path(opt.out_dir) / "data" /
                            ("synth-" + std::to_string(so.clips) + "-seed" + std::to_string(so.seed))).string();
  if (data::synthetic_dataset_matches(root, so)) {
    log << "dataset: reusing synthetic DESED-format set " << root << "\n";
    return data::locate_train_set(root);
  }
  log << "dataset: generating " << so.clips << " synthetic 10 s clips at 44.1 kHz into " << root << "\n";
  return data::synthesize_dataset(root, so).paths;
}

}  // namespace

// Nested seeded subsets of the training set: the first round(f * n) clips of one fixed permutation.
torch::Tensor training_subset(int64_t n, double fraction, std::uint64_t seed) {
  const auto perm = seeded_permutation(static_cast<std::size_t>(n), seed ^ 0x5eedf4acULL);
  const int64_t k = std::max<int64_t>(1, std::llround(fraction * static_cast<double>(n)));
  std::vector<int64_t> idx(perm.begin(), perm.begin() + k);
  std::sort(idx.begin(), idx.end());
  return torch::tensor(idx, torch::TensorOptions().dtype(torch::kLong));
}

// Clips, then features (cached, or a source that computes them per batch). `prepare_only` stops once the
// dataset exists and its features are cached, and returns no sources.
StudyData load_study_data(StudyPlan& plan, std::ostream& log, bool prepare_only) {
  const auto& opt = plan.opt;
  if (opt.data_dir.empty()) plan.paths = synthetic_dataset(opt, log);
  StudyData d;
  auto clips = data::load_clips(plan.paths, opt.extract.on_error, &d.skipped);
  refuse_unlabelled(clips, plan.paths, "--data");
  std::vector<data::Clip> test_clips;
  std::string test_desc = "the training set (as the study)";
  if (!opt.test_data_dir.empty()) {
    test_clips = data::load_clips(plan.test_paths, opt.extract.on_error, &d.skipped);
    refuse_unlabelled(test_clips, plan.test_paths, "--test-data");
    test_desc = plan.test_paths.root + " (" + std::to_string(test_clips.size()) + " clips)";
  } else if (opt.holdout > 0) {
    std::tie(clips, test_clips) = data::split_holdout(clips, opt.holdout, opt.seed, "--holdout");
    plan.test_paths = plan.paths;
    test_desc = "held-out " + std::to_string(test_clips.size()) + " clips (fraction " + std::to_string(opt.holdout) + ")";
  }
  std::vector<data::Clip> validation_clips;
  if (opt.validation > 0) {
    std::tie(clips, validation_clips) = data::split_holdout(clips, opt.validation, opt.seed + 1, "--validation");
    test_desc += "; validation: " + std::to_string(validation_clips.size()) + " training clips held out (fraction " +
                 format_number(opt.validation) + ")";
  }
  log << "features: " << features::describe(opt.features) << " (" << opt.feature_mode << ")\n";
  const data::ExtractOptions eo = extraction_options(opt);
  std::vector<data::FeatureSet> keep;  // cached features stay alive (mapped) while the sources use them
  auto make_source = [&](const data::DatasetPaths& p, std::vector<data::Clip>& cl) -> std::unique_ptr<BatchSource> {
    if (plan.feature_mode == FeatureMode::on_the_fly) {
      return prepare_only ? nullptr : std::make_unique<BatchSource>(p, cl, opt.features, eo);
    }
    std::string note;
    keep.push_back(data::cached_features(opt.cache_dir, p, cl, opt.features, eo, note));
    const auto& f = keep.back();
    log << note << "\n" << "features: " << f.n_clips << " clips -> " << f.n_mels << "x" << f.frames << " in "
        << std::fixed << std::setprecision(2) << f.extract_seconds << " s\n";
    log.unsetf(std::ios::fixed);
    d.skipped.insert(d.skipped.end(), f.skipped.begin(), f.skipped.end());
    return prepare_only ? nullptr : std::make_unique<BatchSource>(f);
  };
  d.train = make_source(plan.paths, clips);
  d.test = test_clips.empty() ? nullptr : make_source(plan.test_paths, test_clips);
  if (!validation_clips.empty()) d.validation = make_source(plan.paths, validation_clips);
  if (!d.skipped.empty()) {
    const auto list = (fs::path(opt.out_dir) / "skipped.txt").string();
    write_file(list, join(d.skipped, "\n") + "\n");
    log << "skipped " << d.skipped.size() << " bad clips (--on-error skip); list in " << list << "\n";
  }
  // Device-resident data (an implementation's choice): the whole set copied to the GPU once for the study.
  const bool resident = std::any_of(plan.impls.begin(), plan.impls.end(), [](const auto& i) { return i.device_data; });
  for (auto* src : {d.train.get(), d.test.get(), d.validation.get()}) {
    if (src && resident) src->keep_on(plan.dev.device);
  }
  // "synthetic" first: the analysis names the data by it (analysis/learning.cpp, data_named). A set the study
  // generated is named within its --out (OUT/data/...): the session's record then matches when the folder
  // moves, as a pack resumed on another node does.
  const std::string kind = data::made_by_synth(plan.paths.root) ? "synthetic " : "";
  const std::string root = opt.data_dir.empty()
      ? "OUT/" + fs::path(plan.paths.root).lexically_relative(opt.out_dir).string() : plan.paths.root;
  if (d.train) d.description = kind + root + " (" + std::to_string(d.train->size()) + " clips); test: " + test_desc;
  return d;
}

}  // namespace sedenergy::runner
