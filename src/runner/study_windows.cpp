// The measured windows of a run: training (E epochs from the same start weights, repeated until the window
// is long enough), learning (epoch by epoch with the validation mAP, early stopping) and testing.
#include <cmath>

#include <nlohmann/json.hpp>

#include "analysis/metrics.hpp"
#include "common/error.hpp"
#include "common/host.hpp"
#include "runner/study_parts.hpp"

namespace sedenergy::runner {
namespace {

// Times epochs inside a window: each lap ends with the device synchronised, so a lap is the epoch's work,
// not only its launches; and the loop's CPU seconds over the whole window.
class EpochClock {
 public:
  explicit EpochClock(const Loop& loop) : loop_(loop), cpu0_(loop.cpu_seconds()), t_(monotonic_s()) {}
  void lap(PhaseOutcome& o) {
    loop_.synchronize();
    const double now = monotonic_s();
    o.epoch_s.push_back(now - t_);
    t_ = now;
  }
  void stop(PhaseOutcome& o) const { o.own_cpu_s = loop_.cpu_seconds() - cpu0_; }

 private:
  const Loop& loop_;
  double cpu0_, t_;
};

double validation_map(Loop& loop, const BatchSource& validation) {
  auto [scores, targets] = loop.predict(&validation);
  return analysis::tagging_metrics(scores, targets, data::kNumClasses).map;
}

}  // namespace

// The training window of a run: E epochs of training repeated from the same starting weights until the
// window is long enough. Every measured unit starts from the same weights: each is the study's workload
// (E epochs from one starting point), and a long window cannot drift into divergence; restoring is one
// device copy of the weights per unit, inside the window.
PhaseOutcome training_window(const WorkItem& item, Loop& loop, const torch::Tensor& subset, energy::Meter& meter,
                             double min_window_s) {
  PhaseOutcome train;
  {
    loop.keep_weights("start");
    auto w = meter.begin(item.variant + "/train");
    const double t0 = monotonic_s();
    EpochClock clock(loop);
    do {
      if (train.epochs > 0) loop.restore_weights("start");
      for (int e = 0; e < item.epochs; ++e) {
        loop.train_epoch(subset);
        clock.lap(train);
      }
      train.epochs += item.epochs;
    } while (!stop_requested() && monotonic_s() - t0 < min_window_s);
    train.window = meter.end(w);
    clock.stop(train);
  }  // the test phase has the memory
  if (stop_requested()) throw RunInterrupted();
  train.loss = loop.training_loss(subset);
  if (!std::isfinite(train.loss)) throw Error("training loss is not finite (NaN/Inf): the model diverged");
  return train;
}

// A learning run's training window: from the start weights, epoch after epoch, each followed by the
// validation mAP (inside the window: early stopping pays for it), until it has not improved for `patience`
// epochs or item.epochs have run. The training is one meter window, read at each epoch's end (issue 33: a
// mark on one long window, not a window per epoch, which would last under the meter's 1 s), so the curve
// carries the time and energy spent from the start up to every epoch. The model ends with its best epoch's
// weights.
PhaseOutcome learning_window(const WorkItem& item, Loop& loop, const torch::Tensor& subset,
                             const BatchSource& validation, int patience, std::uint64_t seed, energy::Meter& meter,
                             std::string& curve_json) {
  PhaseOutcome train;
  loop.keep_weights("best");
  nlohmann::json curve = nlohmann::json::array();
  double best_map = -1;
  int best_epoch = 0, since_best = 0;
  auto w = meter.begin(item.variant + "/train");
  EpochClock clock(loop);
  while (!stop_requested() && train.epochs < item.epochs && since_best < patience) {
    loop.train_epoch(subset);
    clock.lap(train);
    const double map = validation_map(loop, validation);  // its scores came to the host: the device is synchronised
    const auto mark = meter.read(w);
    ++train.epochs;
    curve.push_back({{"epoch", train.epochs}, {"validation_map", map}, {"seconds", mark.duration_s},
                     {"gpu_energy_j", mark.energy_j(energy::Domain::gpu)}, {"energy_j", mark.total_energy_j()}});
    if (map > best_map) {
      best_map = map;
      best_epoch = train.epochs;
      since_best = 0;
      loop.keep_weights("best");
    } else {
      ++since_best;
    }
  }
  train.window = meter.end(w);
  clock.stop(train);
  if (stop_requested()) throw RunInterrupted();
  loop.restore_weights("best");
  train.loss = loop.training_loss(subset);
  if (!std::isfinite(train.loss)) throw Error("training loss is not finite (NaN/Inf): the model diverged");
  curve_json = nlohmann::json{{"seed", seed}, {"patience", patience}, {"max_epochs", item.epochs}, {"best_epoch", best_epoch},
                              {"stopped", since_best >= patience ? "early stop" : "most epochs"}, {"curve", curve},
                              {"method", "the training one meter window, read at each epoch's end (after its "
                                         "validation mAP): seconds and energy from the training's start"}}
                   .dump();
  return train;
}

// The test window: test epochs until it is long enough.
PhaseOutcome test_window(const WorkItem& item, Loop& loop, energy::Meter& meter, double min_window_s) {
  PhaseOutcome test;
  auto w = meter.begin(item.variant + "/test");
  const double t0 = monotonic_s();
  EpochClock test_clock(loop);
  do {
    loop.test_epoch();
    test_clock.lap(test);
    ++test.epochs;
  } while (!stop_requested() && monotonic_s() - t0 < min_window_s);
  test.window = meter.end(w);
  test_clock.stop(test);
  if (stop_requested()) throw RunInterrupted();
  return test;
}

}  // namespace sedenergy::runner
