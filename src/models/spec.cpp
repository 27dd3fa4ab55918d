#include "models/spec.hpp"

#include <algorithm>
#include <cctype>
#include <tuple>

#include "common/error.hpp"
#include "common/text.hpp"

namespace sedenergy::models {

const char* family_name(Family f) {
  switch (f) {
    case Family::kMlp: return "MLP";
    case Family::kCnn: return "CNN";
    case Family::kRnn: return "RNN";
    case Family::kCrnn: return "CRNN";
  }
  return "?";
}

std::string ModelSpec::name() const {
  auto n = [](long long v) { return std::to_string(v); };
  switch (family) {
    case Family::kMlp: return "mlp:" + n(layers) + "x" + n(width);
    case Family::kCnn: return "cnn:" + n(layers) + "x" + n(width);
    case Family::kRnn: return "rnn:" + n(layers) + "x" + n(width);
    case Family::kCrnn: return "crnn:" + n(layers) + "x" + n(rnn_layers) + ":" + n(width) + "x" + n(rnn_hidden);
  }
  return "?";
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
  auto parts = split(lower, ':');
  ModelSpec s;
  const std::string usage = " (expected mlp:LxH, cnn:LxC, rnn:LxH or crnn:LcxLr:CxH)";
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
  return s;
}

std::vector<Op> plan(const ModelSpec& s, const InputShape& in) {
  const std::string who = "model " + s.name();
  if (in.batch <= 0 || in.mels <= 0 || in.frames <= 0) {
    throw InputError(who + ": input sizes must be positive (batch, mels, frames)");
  }
  if (s.layers <= 0 || s.width <= 0 || (s.family == Family::kCrnn && (s.rnn_layers <= 0 || s.rnn_hidden <= 0))) {
    throw InputError(who + ": layer counts and widths must be positive");
  }
  std::vector<Op> ops;
  bool first = true;
  auto linear = [&](long long i, long long o) {
    Op op{OpKind::kLinear};
    op.in = i, op.out = o, op.in_elements = i, op.out_elements = o, op.first_trainable = first;
    first = false;
    ops.push_back(op);
  };
  auto elementwise = [&](OpKind k, long long n) {
    Op op{k};
    op.in_elements = op.out_elements = n;
    ops.push_back(op);
  };
  long long c = 1, h = in.mels, w = in.frames;
  auto conv_blocks = [&](int count, long long channels) {
    for (int l = 0; l < count; ++l) {
      if (h < 2 || w < 2) {
        throw InputError(who + ": " + std::to_string(count) + " pooling layers need an input of at least " +
                         std::to_string(1LL << count) + " mels and frames (input " + std::to_string(in.mels) +
                         "x" + std::to_string(in.frames) + ")");
      }
      Op conv{OpKind::kConv2d};
      conv.in = c, conv.out = channels, conv.c = c, conv.h = h, conv.w = w;
      conv.in_elements = c * h * w, conv.out_elements = channels * h * w, conv.first_trainable = first;
      first = false;
      ops.push_back(conv);
      elementwise(OpKind::kRelu, channels * h * w);
      Op pool{OpKind::kMaxPool2d};
      pool.c = channels, pool.h = h, pool.w = w;
      pool.in_elements = channels * h * w;
      c = channels, h /= 2, w /= 2;
      pool.out_elements = c * h * w;
      ops.push_back(pool);
    }
  };
  auto gru = [&](long long seq, long long input, long long hidden, int layers) {
    Op op{OpKind::kGru};
    op.in = input, op.out = hidden, op.gru_layers = layers, op.seq_len = seq;
    op.in_elements = seq * input, op.out_elements = hidden, op.first_trainable = first;
    first = false;
    ops.push_back(op);
  };
  const long long flat = static_cast<long long>(in.mels) * in.frames;
  switch (s.family) {
    case Family::kMlp:
      elementwise(OpKind::kFlatten, flat);
      linear(flat, s.width);
      elementwise(OpKind::kRelu, s.width);
      for (int l = 1; l < s.layers; ++l) {
        linear(s.width, s.width);
        elementwise(OpKind::kRelu, s.width);
      }
      linear(s.width, 10);
      break;
    case Family::kCnn:
      conv_blocks(s.layers, s.width);
      elementwise(OpKind::kFlatten, c * h * w);
      linear(c * h * w, 10);
      break;
    case Family::kRnn:
      elementwise(OpKind::kToSequence, flat);  // the whole spectrogram is one time step
      gru(1, flat, s.width, s.layers);
      linear(s.width, 10);
      break;
    case Family::kCrnn:
      conv_blocks(s.layers, s.width);
      elementwise(OpKind::kToSequence, c * h * w);  // (C, H, W) memory read as H*W steps of C features
      gru(h * w, c, s.rnn_hidden, s.rnn_layers);
      linear(s.rnn_hidden, 10);
      break;
  }
  elementwise(OpKind::kSoftmax, 10);
  return ops;
}

}  // namespace sedenergy::models
