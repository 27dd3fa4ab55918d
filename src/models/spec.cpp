#include "models/spec.hpp"

#include <algorithm>
#include <cctype>
#include <tuple>

#include "common/error.hpp"
#include "common/text.hpp"

namespace sedenergy::models {

const std::vector<FamilyInfo>& families() {
  static const std::vector<FamilyInfo> all = {
      {Family::kMlp, "MLP", "#d62728", true},
      {Family::kCnn, "CNN", "#1f77b4", true},
      {Family::kRnn, "RNN", "#ff7f0e", true},
      {Family::kCrnn, "CRNN", "#2ca02c", true},
      {Family::kDcaseBaseline, "DCASE", "#9467bd", false},
  };
  return all;
}

const char* family_name(Family f) {
  for (const auto& info : families()) {
    if (info.family == f) return info.name;
  }
  return "?";
}

std::vector<std::string> study_family_names() {
  std::vector<std::string> names;
  for (const auto& info : families()) {
    if (info.in_study) names.emplace_back(info.name);
  }
  return names;
}

std::string ModelSpec::name() const {
  auto n = [](long long v) { return std::to_string(v); };
  std::string s;
  switch (family) {
    case Family::kMlp: s = "mlp:" + n(layers) + "x" + n(width); break;
    case Family::kCnn: s = "cnn:" + n(layers) + "x" + n(width); break;
    case Family::kRnn: s = "rnn:" + n(layers) + "x" + n(width); break;
    case Family::kCrnn: s = "crnn:" + n(layers) + "x" + n(rnn_layers) + ":" + n(width) + "x" + n(rnn_hidden); break;
    case Family::kDcaseBaseline: return "dcase-baseline";
  }
  if (time_steps) s += "+time";
  if (bidirectional) s += "+bi";
  if (cell == Cell::kLstm) s += "+lstm";
  if (batch_norm) s += "+bn";
  return s;
}

namespace {

std::pair<int, int> parse_pair(const std::string& part, const std::string& text) {
  auto xs = split(part, 'x');
  long long a = 0, b = 0;
  if (xs.size() != 2 || !parse_int(xs[0], a) || !parse_int(xs[1], b)) {
    throw InputError("model spec '" + text + "': expected NxM in '" + part + "'");
  }
  if (a <= 0 || b <= 0) throw InputError("model spec '" + text + "': sizes must be positive");
  if (a > 1'000'000 || b > 1'000'000) throw InputError("model spec '" + text + "': size too large");
  return {static_cast<int>(a), static_cast<int>(b)};
}

}  // namespace

ModelSpec parse_spec(const std::string& raw) {
  std::string text = trim(raw);
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  ModelSpec s;
  if (lower == "dcase-baseline") {
    s.family = Family::kDcaseBaseline;
    return s;
  }
  auto mods = split(lower, '+');
  auto parts = split(mods[0], ':');
  const std::string usage = " (expected mlp:LxH, cnn:LxC, rnn:LxH, crnn:LcxLr:CxH or dcase-baseline, "
                            "optionally +time, +bi, +lstm, +bn)";
  if (parts.size() == 2 && (parts[0] == "mlp" || parts[0] == "cnn" || parts[0] == "rnn")) {
    s.family = parts[0] == "mlp" ? Family::kMlp : parts[0] == "cnn" ? Family::kCnn : Family::kRnn;
    std::tie(s.layers, s.width) = parse_pair(parts[1], text);
  } else if (parts.size() == 3 && parts[0] == "crnn") {
    s.family = Family::kCrnn;
    std::tie(s.layers, s.rnn_layers) = parse_pair(parts[1], text);
    std::tie(s.width, s.rnn_hidden) = parse_pair(parts[2], text);
  } else {
    throw InputError("model spec '" + text + "' does not parse" + usage);
  }
  const bool recurrent = s.family == Family::kRnn || s.family == Family::kCrnn;
  const bool convolutional = s.family == Family::kCnn || s.family == Family::kCrnn;
  for (std::size_t i = 1; i < mods.size(); ++i) {
    const std::string& m = mods[i];
    bool ok = false;
    if (m == "time") ok = recurrent, s.time_steps = true;
    if (m == "bi") ok = recurrent, s.bidirectional = true;
    if (m == "lstm") ok = recurrent, s.cell = Cell::kLstm;
    if (m == "bn") ok = convolutional, s.batch_norm = true;
    if (!ok) {
      throw InputError("model spec '" + text + "': modifier '+" + m + "' does not apply to " + family_name(s.family) +
                       usage);
    }
  }
  return s;
}

namespace {

// The layers of a model, appended in order while the tensor shape (channels c, height h, width w) is
// tracked; the first trainable layer is marked (it has no input gradient to compute).
class OpBuilder {
 public:
  OpBuilder(const ModelSpec& s, const InputShape& in) : h(in.mels), w(in.frames), s_(s), in_(in), who_("model " + s.name()) {}

  std::vector<Op> ops;
  long long c = 1, h, w;

  Op* elementwise(OpKind k, long long n) {
    Op op{k};
    op.in_elements = op.out_elements = n;
    op.c = c, op.h = h, op.w = w;
    ops.push_back(op);
    return &ops.back();
  }
  void linear(long long i, long long o, long long positions = 1) {
    Op op{OpKind::kLinear};
    op.in = i, op.out = o, op.positions = positions;
    op.in_elements = i * positions, op.out_elements = o * positions;
    trainable(op);
  }
  void conv(long long channels) {
    Op op{OpKind::kConv2d};
    op.in = c, op.out = channels, op.c = c, op.h = h, op.w = w;
    op.in_elements = c * h * w, op.out_elements = channels * h * w;
    trainable(op);
    c = channels;
  }
  void batch_norm(double eps, double momentum) {
    Op* op = elementwise(OpKind::kBatchNorm2d, c * h * w);
    op->eps = eps, op->momentum = momentum;
  }
  void pool(OpKind kind, int ph, int pw, int blocks) {
    if (h < ph || w < pw) {
      throw InputError(who_ + ": " + std::to_string(blocks) + " pooling layers need a larger input than " +
                       std::to_string(in_.mels) + "x" + std::to_string(in_.frames) + " (mels x frames)");
    }
    Op op{kind};
    op.c = c, op.h = h, op.w = w, op.pool_h = ph, op.pool_w = pw;
    op.in_elements = c * h * w;
    h /= ph, w /= pw;
    op.out_elements = c * h * w;
    ops.push_back(op);
  }
  // The study's convolution block: conv 3x3, (batch norm), ReLU, 2x2 max pooling.
  void conv_blocks(int count, long long channels) {
    for (int l = 0; l < count; ++l) {
      if (h < 2 || w < 2) pool(OpKind::kMaxPool2d, 2, 2, count);  // reports the error
      conv(channels);
      if (s_.batch_norm) batch_norm(1e-5, 0.1);
      elementwise(OpKind::kRelu, c * h * w);
      pool(OpKind::kMaxPool2d, 2, 2, count);
    }
  }
  // A recurrent stack; returns the features of its output (both directions).
  long long rnn(long long seq, long long input, long long hidden, int layers, bool all_steps) {
    Op op{OpKind::kRnn};
    op.in = input, op.out = hidden, op.rnn_layers = layers, op.seq_len = seq;
    op.cell = s_.cell, op.bidirectional = s_.bidirectional, op.all_steps = all_steps;
    const long long dirs = s_.bidirectional ? 2 : 1;
    op.in_elements = seq * input, op.out_elements = (all_steps ? seq : 1) * dirs * hidden;
    trainable(op);
    return dirs * hidden;
  }
  void to_sequence(OpKind kind, long long steps, long long features, int time_axis) {
    Op* op = elementwise(kind, c * h * w);
    op->seq_len = steps, op->in = features, op->time_axis = time_axis;
  }

 private:
  void trainable(Op& op) {
    op.first_trainable = first_;
    first_ = false;
    ops.push_back(op);
  }
  const ModelSpec& s_;
  const InputShape& in_;
  std::string who_;
  bool first_ = true;
};

void plan_mlp(OpBuilder& b, const ModelSpec& s, long long flat) {
  b.elementwise(OpKind::kFlatten, flat);
  b.linear(flat, s.width);
  b.elementwise(OpKind::kRelu, s.width);
  for (int l = 1; l < s.layers; ++l) {
    b.linear(s.width, s.width);
    b.elementwise(OpKind::kRelu, s.width);
  }
  b.linear(s.width, 10);
}

void plan_rnn(OpBuilder& b, const ModelSpec& s, const InputShape& in, long long flat) {
  long long out = 0;
  if (s.time_steps) {
    b.to_sequence(OpKind::kPermuteToSequence, in.frames, in.mels, 3);  // frames as steps
    out = b.rnn(in.frames, in.mels, s.width, s.layers, false);
  } else {
    b.to_sequence(OpKind::kToSequence, 1, flat, 3);  // the whole spectrogram is one time step
    out = b.rnn(1, flat, s.width, s.layers, false);
  }
  b.linear(out, 10);
}

void plan_crnn(OpBuilder& b, const ModelSpec& s) {
  b.conv_blocks(s.layers, s.width);
  long long out = 0;
  if (s.time_steps) {
    b.to_sequence(OpKind::kPermuteToSequence, b.w, b.c * b.h, 3);  // time-major: frames (W) as steps
    out = b.rnn(b.w, b.c * b.h, s.rnn_hidden, s.rnn_layers, false);
  } else {
    b.to_sequence(OpKind::kToSequence, b.h * b.w, b.c, 3);  // (C, H, W) memory read as H*W steps of C features
    out = b.rnn(b.h * b.w, b.c, s.rnn_hidden, s.rnn_layers, false);
  }
  b.linear(out, 10);
}

// The DCASE task 4 baseline: 7 conv blocks with GLU, a bidirectional GRU, attention heads (probabilities).
void plan_dcase_baseline(OpBuilder& b, long long flat) {
  // Input (B, 1, frames, mels): time first, as the baseline.
  b.elementwise(OpKind::kSwapAxes, flat);
  std::swap(b.h, b.w);
  const long long filters[] = {16, 32, 64, 128, 128, 128, 128};
  const int pool_t[] = {2, 2, 1, 1, 1, 1, 1};
  for (int i = 0; i < 7; ++i) {
    b.conv(filters[i]);
    b.batch_norm(1e-3, 0.99);
    b.elementwise(OpKind::kGlu, b.c * b.h * b.w);
    b.elementwise(OpKind::kDropout, b.c * b.h * b.w)->dropout = 0.5;
    b.pool(OpKind::kAvgPool2d, pool_t[i], 2, 7);
  }
  b.to_sequence(OpKind::kPermuteToSequence, b.h, b.c * b.w, 2);  // time on H, (C x freq) features
  const long long steps = b.h;
  const long long feats = b.c * b.w;
  Op op{OpKind::kRnn};
  op.in = feats, op.out = 128, op.rnn_layers = 2, op.seq_len = steps, op.cell = Cell::kGru;
  op.bidirectional = true, op.all_steps = true;
  op.in_elements = steps * feats, op.out_elements = steps * 256;
  b.ops.push_back(op);
  b.elementwise(OpKind::kDropout, steps * 256)->dropout = 0.5;
  Op heads{OpKind::kAttentionHeads};
  heads.in = 256, heads.out = 10, heads.positions = steps;
  heads.in_elements = steps * 256, heads.out_elements = 10;
  b.ops.push_back(heads);
}

}  // namespace

std::vector<Op> plan(const ModelSpec& s, const InputShape& in) {
  const std::string who = "model " + s.name();
  if (in.batch <= 0 || in.mels <= 0 || in.frames <= 0) {
    throw InputError(who + ": input sizes must be positive (batch, mels, frames)");
  }
  if (s.family != Family::kDcaseBaseline &&
      (s.layers <= 0 || s.width <= 0 || (s.family == Family::kCrnn && (s.rnn_layers <= 0 || s.rnn_hidden <= 0)))) {
    throw InputError(who + ": layer counts and widths must be positive");
  }
  OpBuilder b(s, in);
  const long long flat = static_cast<long long>(in.mels) * in.frames;
  switch (s.family) {
    case Family::kMlp:
      plan_mlp(b, s, flat);
      break;
    case Family::kCnn:
      b.conv_blocks(s.layers, s.width);
      b.elementwise(OpKind::kFlatten, b.c * b.h * b.w);
      b.linear(b.c * b.h * b.w, 10);
      break;
    case Family::kRnn:
      plan_rnn(b, s, in, flat);
      break;
    case Family::kCrnn:
      plan_crnn(b, s);
      break;
    case Family::kDcaseBaseline:
      plan_dcase_baseline(b, flat);
      return b.ops;  // the heads end in probabilities
  }
  b.elementwise(OpKind::kSoftmax, 10);
  return b.ops;
}

}  // namespace sedenergy::models
