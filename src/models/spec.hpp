// ModelSpec: one description of a network that drives both the LibTorch module (torch_models.hpp)
// and the analytic compute accounting (compute/accounting.hpp), so the two cannot disagree.
#pragma once
#include <string>
#include <vector>

namespace sedenergy::models {

enum class Family { kMlp, kCnn, kRnn, kCrnn };
const char* family_name(Family f);  // "MLP", "CNN", "RNN", "CRNN"

struct ModelSpec {
  Family family = Family::kMlp;
  int layers = 0;  // MLP/CNN/RNN: number of layers; CRNN: conv layers
  int width = 0;   // MLP hidden units, CNN channels, RNN hidden units; CRNN: conv channels
  int rnn_layers = 0;  // CRNN only
  int rnn_hidden = 0;  // CRNN only
  // Canonical text: "mlp:4x1024", "cnn:2x128", "rnn:1x512", "crnn:1x2:512x256".
  std::string name() const;
  bool operator==(const ModelSpec&) const = default;
};

struct InputShape {
  int batch = 8;
  int mels = 128;
  int frames = 64;
};

// Parses the canonical text (case-insensitive family). Throws InputError naming the text.
ModelSpec parse_spec(const std::string& text);

// One operation of a model, in execution order. Sizes are per sample (batch excluded).
enum class OpKind { kLinear, kConv2d, kRelu, kMaxPool2d, kFlatten, kToSequence, kGru, kSoftmax };

struct Op {
  OpKind kind;
  // Linear: in -> out. Conv2d: in channels -> out channels, 3x3, stride 1, pad 1. GRU: input -> hidden.
  long long in = 0, out = 0;
  int gru_layers = 0;
  // Input tensor shape per sample: [c, h, w] for conv/pool, [seq, features] for GRU, [n] otherwise.
  long long c = 0, h = 0, w = 0;
  long long seq_len = 0;
  long long in_elements = 0, out_elements = 0;  // per sample
  bool first_trainable = false;  // its input gradient is never needed
};

// The execution plan of a spec for an input shape. Throws InputError when the spec is invalid for
// that input (zero sizes, more pooling than the input allows).
std::vector<Op> plan(const ModelSpec& spec, const InputShape& input);

}  // namespace sedenergy::models
