// Test-set quality of a multi-label tagger: clip accuracy, per-class F1 and average precision.
// Scores and targets are row-major (clips x classes); targets are 0/1.
#pragma once
#include <cstddef>
#include <vector>

namespace sedenergy::analysis {

struct TaggingMetrics {
  double accuracy = -1;        // clips whose every label is right at the threshold
  double label_accuracy = -1;  // labels right, over clips x classes
  double f1_macro = -1;        // mean F1 over classes (a class with no positive and no prediction: skipped)
  double map = -1;             // mean average precision over classes with at least one positive
  std::vector<double> f1, ap;  // per class; -1 where undefined
};

// Average precision of one class: mean over positives of the precision at their rank (ties broken by
// the pessimistic order: negatives first). -1 when the class has no positive.
double average_precision(const std::vector<float>& scores, const std::vector<float>& targets);

TaggingMetrics tagging_metrics(const std::vector<float>& scores, const std::vector<float>& targets,
                               std::size_t classes, float threshold = 0.5f);

// The mAP of a model that learned nothing: the same scores for every clip (ties ranked as above), on
// these targets. A trained model's mAP is compared with it (did-not-learn).
double chance_map(const std::vector<float>& targets, std::size_t classes);

}  // namespace sedenergy::analysis
