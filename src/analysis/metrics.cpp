#include "analysis/metrics.hpp"

#include <algorithm>
#include <numeric>

#include "common/error.hpp"

namespace sedenergy::analysis {

double average_precision(const std::vector<float>& scores, const std::vector<float>& targets) {
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  // Descending score; among equal scores negatives rank first, so ties never flatter the model.
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (scores[a] != scores[b]) return scores[a] > scores[b];
    return targets[a] < targets[b];
  });
  double hits = 0, sum = 0;
  for (std::size_t r = 0; r < order.size(); ++r) {
    if (targets[order[r]] > 0.5f) {
      hits += 1;
      sum += hits / static_cast<double>(r + 1);
    }
  }
  return hits > 0 ? sum / hits : -1;
}

TaggingMetrics tagging_metrics(const std::vector<float>& scores, const std::vector<float>& targets,
                               std::size_t classes, float threshold) {
  if (classes == 0 || scores.size() != targets.size() || scores.size() % classes != 0) {
    throw Error("tagging_metrics: scores and targets must both be clips x classes");
  }
  TaggingMetrics m;
  const std::size_t n = scores.size() / classes;
  if (n == 0) return m;
  std::size_t clips_right = 0, labels_right = 0;
  std::vector<double> tp(classes), fp(classes), fn(classes);
  for (std::size_t i = 0; i < n; ++i) {
    bool all = true;
    for (std::size_t c = 0; c < classes; ++c) {
      const bool pred = scores[i * classes + c] >= threshold, truth = targets[i * classes + c] > 0.5f;
      if (pred == truth) ++labels_right;
      else all = false;
      tp[c] += pred && truth;
      fp[c] += pred && !truth;
      fn[c] += !pred && truth;
    }
    clips_right += all;
  }
  m.accuracy = static_cast<double>(clips_right) / n;
  m.label_accuracy = static_cast<double>(labels_right) / (n * classes);
  double f1_sum = 0, ap_sum = 0;
  int f1_n = 0, ap_n = 0;
  for (std::size_t c = 0; c < classes; ++c) {
    const double denom = 2 * tp[c] + fp[c] + fn[c];
    m.f1.push_back(denom > 0 ? 2 * tp[c] / denom : -1);
    if (denom > 0) f1_sum += m.f1.back(), ++f1_n;
    std::vector<float> s(n), t(n);
    for (std::size_t i = 0; i < n; ++i) s[i] = scores[i * classes + c], t[i] = targets[i * classes + c];
    m.ap.push_back(average_precision(s, t));
    if (m.ap.back() >= 0) ap_sum += m.ap.back(), ++ap_n;
  }
  if (f1_n) m.f1_macro = f1_sum / f1_n;
  if (ap_n) m.map = ap_sum / ap_n;
  return m;
}

double chance_map(const std::vector<float>& targets, std::size_t classes) {
  return tagging_metrics(std::vector<float>(targets.size(), 0.5f), targets, classes).map;
}

}  // namespace sedenergy::analysis
