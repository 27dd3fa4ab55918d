#include "runner/trainer.hpp"

#include <algorithm>
#include <filesystem>

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "common/error.hpp"
#include "common/host.hpp"

namespace fs = std::filesystem;

namespace sedenergy::runner {

namespace {

// bf16 autocast on CUDA for a scope (the forward pass), as torch.autocast("cuda", torch.bfloat16) does.
// Its weight-cast cache is off inside graphs: a capture must not keep casts made outside it.
class Autocast {
 public:
  Autocast(bool on, bool cache) : on_(on) {
    if (!on_) return;
    cache_was_ = at::autocast::is_autocast_cache_enabled();
#if TORCH_VERSION_MAJOR >= 2
    at::autocast::set_autocast_enabled(at::kCUDA, true);
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
#else
    at::autocast::set_enabled(true);
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
#endif
    at::autocast::set_autocast_cache_enabled(cache);
    at::autocast::increment_nesting();
  }
  ~Autocast() {
    if (!on_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if TORCH_VERSION_MAJOR >= 2
    at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
    at::autocast::set_enabled(false);
#endif
    at::autocast::set_autocast_cache_enabled(cache_was_);
  }
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;

 private:
  bool on_;
  bool cache_was_ = true;
};

}  // namespace

Float32Math::Float32Math(models::Precision p) : on_(models::sets_float32_math(p)) {
  if (!on_) return;
  auto& ctx = at::globalContext();
  cublas_was_ = ctx.allowTF32CuBLAS();
  cudnn_was_ = ctx.allowTF32CuDNN();
  const bool tf32 = p == models::Precision::tf32;
  ctx.setAllowTF32CuBLAS(tf32);
  ctx.setAllowTF32CuDNN(tf32);
}

Float32Math::~Float32Math() {
  if (!on_) return;
  at::globalContext().setAllowTF32CuBLAS(cublas_was_);
  at::globalContext().setAllowTF32CuDNN(cudnn_was_);
}

BatchSource::BatchSource(const data::FeatureSet& fs) : size_(fs.n_clips), mels_(fs.n_mels), frames_(fs.frames) {
  x_ = torch::from_blob(const_cast<float*>(fs.data()), {fs.n_clips, 1, fs.n_mels, fs.frames}, torch::kFloat32).clone();
  y_ = targets(fs.targets, fs.n_clips);
}

BatchSource::BatchSource(torch::Tensor x, torch::Tensor y)
    : size_(x.size(0)), mels_(static_cast<int>(x.size(2))), frames_(static_cast<int>(x.size(3))), x_(std::move(x)),
      y_(std::move(y)) {}

BatchSource::BatchSource(const data::DatasetPaths& paths, const std::vector<data::Clip>& clips,
                         const features::FeatureParams& p, const data::ExtractOptions& opt)
    : size_(static_cast<int64_t>(clips.size())), opt_(opt), params_(p), mel_(std::make_shared<features::MelExtractor>(p)) {
  mels_ = p.n_mels;
  frames_ = mel_->output_frames(static_cast<std::size_t>(p.clip_seconds * p.sample_rate));
  std::vector<float> t;
  for (const auto& c : clips) {
    files_.push_back((fs::path(paths.audio_dir) / c.filename).string());
    auto mh = data::multi_hot(c.labels);
    t.insert(t.end(), mh.begin(), mh.end());
  }
  y_ = targets(t, size_);
}

std::pair<torch::Tensor, torch::Tensor> BatchSource::batch(const torch::Tensor& idx, bool pinned) const {
  const int64_t b = idx.size(0);
  const auto host = torch::TensorOptions().dtype(torch::kFloat32).pinned_memory(pinned);
  auto y = torch::empty({b, y_.size(1)}, host);
  at::index_select_out(y, y_, 0, idx);
  auto x = torch::empty({b, 1, mels_, frames_}, host);
  if (!mel_) {
    at::index_select_out(x, x_, 0, idx);
    return {x, y};
  }
  float* dst = x.data_ptr<float>();
  const auto* ids = idx.data_ptr<int64_t>();
  const std::size_t per = static_cast<std::size_t>(mels_) * frames_;
  for (int64_t i = 0; i < b; ++i) {
    auto f = mel_->compute(data::load_clip_audio(files_[ids[i]], params_, opt_, static_cast<std::size_t>(ids[i])));
    std::copy(f.begin(), f.end(), dst + i * per);
  }
  return {x, y};
}

void BatchSource::keep_on(const torch::Device& device) {
  if (mel_) throw InputError("device-resident data needs cached features (--feature-mode cached)");
  if (!x_dev_.defined()) {
    x_dev_ = x_.to(device);
    y_dev_ = y_.to(device);
  }
}

torch::Tensor BatchSource::targets(const std::vector<float>& t, int64_t n) {
  return torch::from_blob(const_cast<float*>(t.data()), {n, data::kNumClasses}, torch::kFloat32).clone();
}

Optimizer::Optimizer(models::SedNet& model, const models::Implementation& impl, double lr) {
  if (impl.optimizer == "per-tensor") {
    libtorch_ = std::make_unique<torch::optim::Adam>(model->parameters(), torch::optim::AdamOptions(lr));
  } else {
    fast_ = std::make_unique<models::FastAdam>(model->parameters(), lr, impl.optimizer);
  }
}

Trainer::Trainer(const BatchSource& train, const BatchSource& test, const DeviceChoice& dev, const StudyOptions& opt,
                 const models::Implementation& impl, models::SedNet model)
    : float32_math_(impl.precision), train_(train), test_(test), dev_(dev), batch_(opt.batch), impl_(impl),
      model_(std::move(model)),
      optim_(model_, impl_, opt.lr) {
  test_order_ = torch::arange(test_.size(), torch::TensorOptions().dtype(torch::kLong));
  test_order_dev_ = on_device(test_order_);
}

torch::Tensor Trainer::on_device(const torch::Tensor& order) const {
  return impl_.device_data ? order.to(dev_.device) : torch::Tensor();
}

void Trainer::train_step(const torch::Tensor& x, const torch::Tensor& y) {
  optim_.zero_grad();
  torch::Tensor out;
  {
    Autocast autocast(impl_.precision == models::Precision::bf16, !impl_.graph);
    out = model_->forward(x);
  }
  if (out.scalar_type() != torch::kFloat32) out = out.to(torch::kFloat32);
  // BCE with logits (sigmoid per class, the multi-label norm), or the study's BCE on softmax outputs, whose
  // gradient is all the update needs: the step computes no loss value (training_loss reports the loss).
  if (model_->logits()) {
    torch::binary_cross_entropy_with_logits(out, y).backward();
  } else {
    out.backward(models::bce_gradient(out.detach(), y, mean_scale(out.numel())));
  }
  optim_.step();
}

const torch::Tensor& Trainer::mean_scale(int64_t numel) {
  auto it = mean_scales_.find(numel);
  if (it == mean_scales_.end()) {
    it = mean_scales_.emplace(numel, torch::full({}, 1.0 / static_cast<double>(numel), torch::TensorOptions().device(dev_.device))).first;
  }
  return it->second;
}

torch::Tensor Trainer::test_step(const torch::Tensor& x) {
  Autocast autocast(impl_.precision == models::Precision::bf16, !impl_.graph);
  return model_->forward(x);
}

std::pair<torch::Tensor, torch::Tensor> Trainer::device_batch(const BatchSource& src, const torch::Tensor& order,
                                                              const torch::Tensor& order_dev, int64_t i,
                                                              int64_t j) const {
  if (impl_.device_data) {
    const auto idx = order_dev.slice(0, i, j);
    return {src.resident_x().index_select(0, idx), src.resident_y().index_select(0, idx)};
  }
  auto [x, y] = src.batch(order.slice(0, i, j), dev_.cuda);
  return {x.to(dev_.device, /*non_blocking=*/true), y.to(dev_.device, /*non_blocking=*/true)};
}

// A graph's static input refilled in place: gathered on the device, or copied from the host.
void Trainer::fill(Graphed& g, const BatchSource& src, const torch::Tensor& order, const torch::Tensor& order_dev,
                   int64_t i, int64_t j) const {
  if (impl_.device_data) {
    const auto idx = order_dev.slice(0, i, j);
    at::index_select_out(g.x, src.resident_x(), 0, idx);
    at::index_select_out(g.y, src.resident_y(), 0, idx);
    return;
  }
  auto [x, y] = src.batch(order.slice(0, i, j), dev_.cuda);
  g.x.copy_(x, /*non_blocking=*/true);
  g.y.copy_(y, /*non_blocking=*/true);
}

// The graph of a step of j - i clips, captured on first use with rows [i, j) as its warm-up batch.
Trainer::Graphed& Trainer::graph_for(std::map<int64_t, Graphed>& graphs, bool train, const torch::Tensor& order,
                                     const torch::Tensor& order_dev, int64_t i, int64_t j) {
  auto it = graphs.find(j - i);
  if (it != graphs.end()) return it->second;
  Graphed& g = graphs[j - i];
  const BatchSource& src = train ? train_ : test_;
  std::tie(g.x, g.y) = device_batch(src, order, order_dev, i, j);
  if (train) {
    model_->train();
    g.step = std::make_unique<CapturedStep>([this, &g] { train_step(g.x, g.y); }, 2);
  } else {
    model_->eval();
    torch::NoGradGuard no_grad;
    g.step = std::make_unique<CapturedStep>([this, &g] { g.out = test_step(g.x); }, 2);
  }
  return g;
}

void Trainer::warm_up(const torch::Tensor& subset, int steps) {
  if (epoch_graphs()) {
    model_->train();
    replay_epoch(true, subset);
    model_->eval();
    torch::NoGradGuard no_grad;
    replay_epoch(false, test_order_);
  } else if (impl_.graph) {
    const int64_t n = subset.size(0), n_test = test_.size();
    const auto order_dev = on_device(subset);
    graph_for(train_graphs_, true, subset, order_dev, 0, std::min<int64_t>(batch_, n));
    if (n % batch_ && n > batch_) graph_for(train_graphs_, true, subset, order_dev, n - n % batch_, n);
    graph_for(test_graphs_, false, test_order_, test_order_dev_, 0, std::min<int64_t>(batch_, n_test));
    if (n_test % batch_ && n_test > batch_) {
      graph_for(test_graphs_, false, test_order_, test_order_dev_, n_test - n_test % batch_, n_test);
    }
  }
  if (steps > 0) train_epoch(subset, steps);
}

int Trainer::replay_epoch(bool train, const torch::Tensor& order) {
  EpochGraph& g = train ? train_epoch_graph_ : test_epoch_graph_;
  if (!g.graph) {
    g.order = order.to(dev_.device);
    // The steps read the order on the device only; the host copy gives their count (no copy back inside a capture).
    g.graph = std::make_unique<CapturedStep>([this, &g, train, host = order] { run_steps(train, host, g.order, -1, false); }, 1);
  } else if (train) {
    g.order.copy_(order);  // one small copy per epoch (the test order never changes)
  }
  g.graph->replay();
  return steps_per_epoch(order.size(0), batch_);
}

// Steps over the batches of `order` (at most max_steps; < 0: all), each replayed from its graph once its
// static input is refilled, or run eagerly. Returns the steps run.
int Trainer::run_steps(bool train, const torch::Tensor& order, const torch::Tensor& order_dev, int max_steps,
                       bool step_graphs) {
  const BatchSource& src = train ? train_ : test_;
  auto& graphs = train ? train_graphs_ : test_graphs_;
  const int64_t n = order.size(0);
  int done = 0;
  for (int64_t i = 0; i < n && (max_steps < 0 || done < max_steps) && !(stop_ && *stop_); i += batch_, ++done) {
    const int64_t j = std::min<int64_t>(i + batch_, n);
    if (step_graphs) {
      Graphed& g = graph_for(graphs, train, order, order_dev, i, j);
      fill(g, src, order, order_dev, i, j);
      g.step->replay();
    } else {
      auto [x, y] = device_batch(src, order, order_dev, i, j);
      train ? train_step(x, y) : (void)test_step(x);
    }
  }
  return done;
}

int Trainer::train_epoch(const torch::Tensor& subset, int steps) {
  model_->train();
  const auto order = subset.index_select(0, torch::randperm(subset.size(0), torch::TensorOptions().dtype(torch::kLong)));
  return epoch_graphs() && steps < 0 ? replay_epoch(true, order)
                                     : run_steps(true, order, on_device(order), steps, impl_.graph && !epoch_graphs());
}

double Trainer::training_loss(const torch::Tensor& subset) {
  model_->eval();
  torch::NoGradGuard no_grad;
  const auto order_dev = on_device(subset);
  torch::Tensor sum = torch::zeros({}, torch::TensorOptions().device(dev_.device));
  const int64_t n = subset.size(0);
  for (int64_t i = 0; i < n; i += batch_) {
    const int64_t j = std::min<int64_t>(i + batch_, n);
    auto [x, y] = device_batch(train_, subset, order_dev, i, j);
    auto out = test_step(x).to(torch::kFloat32);
    auto loss = model_->logits() ? torch::binary_cross_entropy_with_logits(out, y) : models::bce_on_probabilities(out, y);
    sum.add_(loss, static_cast<double>(j - i));
  }
  return sum.item<double>() / static_cast<double>(std::max<int64_t>(1, n));
}

void Trainer::test_epoch() {
  model_->eval();
  torch::NoGradGuard no_grad;
  if (epoch_graphs()) {
    replay_epoch(false, test_order_);
  } else {
    run_steps(false, test_order_, test_order_dev_, -1, impl_.graph);
  }
}

std::pair<std::vector<float>, std::vector<float>> Trainer::predict(const BatchSource* source) {
  model_->eval();
  torch::NoGradGuard no_grad;
  const BatchSource& src = source ? *source : test_;
  const auto order = source ? torch::arange(src.size(), torch::TensorOptions().dtype(torch::kLong)) : test_order_;
  const auto order_dev = source ? on_device(order) : test_order_dev_;
  std::vector<float> scores, targets;
  const int64_t n = src.size();
  for (int64_t i = 0; i < n; i += batch_) {
    auto [x, y] = device_batch(src, order, order_dev, i, std::min<int64_t>(i + batch_, n));
    auto out = test_step(x);
    if (model_->logits()) out = torch::sigmoid(out);
    out = out.to(torch::kCPU, torch::kFloat32).contiguous();
    const auto yc = y.to(torch::kCPU).contiguous();
    scores.insert(scores.end(), out.data_ptr<float>(), out.data_ptr<float>() + out.numel());
    targets.insert(targets.end(), yc.data_ptr<float>(), yc.data_ptr<float>() + yc.numel());
  }
  return {scores, targets};
}

double Trainer::cpu_seconds() const { return process_cpu_seconds(); }

void Trainer::keep_weights(const std::string& slot) {
  torch::NoGradGuard no_grad;
  auto& saved = kept_[slot];
  saved.clear();
  for (const auto& p : model_->parameters()) saved.push_back(p.detach().clone());
  for (const auto& b : model_->buffers()) saved.push_back(b.detach().clone());
}

void Trainer::restore_weights(const std::string& slot) {
  torch::NoGradGuard no_grad;
  const auto& saved = kept_.at(slot);
  std::size_t i = 0;
  for (auto& p : model_->parameters()) p.copy_(saved[i++]);
  for (auto& b : model_->buffers()) b.copy_(saved[i++]);
}

std::pair<int, int> Trainer::count_kernels(std::string& why) {
  if (!dev_.cuda) {
    why = "kernels are counted on CUDA devices only";
    return {-1, -1};
  }
  const int64_t b = std::min<int64_t>(batch_, train_.size());
  const auto order = torch::arange(b, torch::TensorOptions().dtype(torch::kLong));
  auto [x, y] = device_batch(train_, order, on_device(order), 0, b);
  model_->train();
  const int train = count_step_kernels([&] { train_step(x, y); }, why);
  model_->eval();
  torch::NoGradGuard no_grad;
  const int test = count_step_kernels([&] { test_step(x); }, why);
  return {train, test};
}

}  // namespace sedenergy::runner
