// ModelSpec: one description of a network that drives both the LibTorch module (torch_models.hpp)
// and the analytic compute accounting (compute/accounting.hpp), so the two cannot disagree.
//
// Text form: FAMILY:SIZES[+MODIFIER...]
//   mlp:LxH          L linear layers of H units (the study)
//   cnn:LxC          L conv blocks of C channels (the study)
//   rnn:LxH          GRU of L layers, H units; the whole spectrogram is one step (the study)
//   crnn:LcxLr:CxH   Lc conv blocks of C channels, then a GRU of Lr layers, H units (the study)
//   dcase-baseline   the DCASE task 4 baseline CRNN (docs/FACTS.md §1.3)
// Modifiers (realistic variants beyond the study):
//   +time   rnn: frames are the time steps (mels as features); crnn: time-major sequence (permute first)
//   +bi     bidirectional recurrent layers          +lstm  LSTM instead of GRU
//   +bn     BatchNorm after every convolution (cnn, crnn)
#pragma once
#include <string>
#include <vector>

namespace sedenergy::models {

enum class Family { kMlp, kCnn, kRnn, kCrnn, kDcaseBaseline };

// Every family once, in the order tables and charts list them: its name, its colour in charts, and whether
// it is one of the study's four (the DCASE baseline is a reference model, not a family of the study).
struct FamilyInfo {
  Family family;
  const char* name;
  const char* colour;
  bool in_study;
};
const std::vector<FamilyInfo>& families();
const char* family_name(Family f);             // "MLP", "CNN", "RNN", "CRNN", "DCASE"
std::vector<std::string> study_family_names();  // MLP, CNN, RNN, CRNN

enum class Cell { kGru, kLstm };

struct ModelSpec {
  Family family = Family::kMlp;
  int layers = 0;  // MLP/CNN/RNN: number of layers; CRNN: conv layers
  int width = 0;   // MLP hidden units, CNN channels, RNN hidden units; CRNN: conv channels
  int rnn_layers = 0;  // CRNN only
  int rnn_hidden = 0;  // CRNN only
  bool time_steps = false;
  bool bidirectional = false;
  Cell cell = Cell::kGru;
  bool batch_norm = false;
  // Canonical text: "mlp:4x1024", "crnn:1x2:512x256+time+bi", "dcase-baseline".
  std::string name() const;
  bool operator==(const ModelSpec&) const = default;
};

struct InputShape {
  int batch = 8;
  int mels = 128;
  int frames = 64;
};

// Parses the text form (case-insensitive). Throws InputError naming the text.
ModelSpec parse_spec(const std::string& text);

// One operation of a model, in execution order. Sizes are per sample (batch excluded).
enum class OpKind {
  kLinear,       // in -> out, applied at `positions` positions (1, or every time step)
  kConv2d,       // 3x3, stride 1, padding 1: c(in) -> out on h x w
  kBatchNorm2d,  // c channels on h x w
  kRelu,
  kGlu,          // Linear(c, c) over channels times sigmoid(x) (DCASE baseline)
  kDropout,      // active in training only
  kMaxPool2d,    // 2x2
  kAvgPool2d,    // pool_h x pool_w
  kFlatten,
  kSwapAxes,     // (B, 1, mels, frames) -> (B, 1, frames, mels)
  kToSequence,   // view (B, C, H, W) as (B, H*W, C) without permuting (the study's CRNN / RNN)
  kPermuteToSequence,  // (B, C, H, W) -> (B, steps, features) with time on axis `time_axis` (2: H, 3: W)
  kRnn,          // GRU/LSTM: in -> out hidden, rnn_layers layers, seq_len steps; last step or all steps
  kSoftmax,
  kAttentionHeads  // DCASE: sigmoid frame head and class-softmax attention pooling over time
};

struct Op {
  OpKind kind;
  long long in = 0, out = 0;
  long long c = 0, h = 0, w = 0;  // input tensor per sample for conv/pool/norm/glu
  long long positions = 1;        // kLinear, kAttentionHeads: rows per sample
  int pool_h = 2, pool_w = 2;
  int time_axis = 3;
  // Recurrent layers.
  int rnn_layers = 0;
  long long seq_len = 0;
  Cell cell = Cell::kGru;
  bool bidirectional = false;
  bool all_steps = false;  // output every step (else the last one)
  double eps = 1e-5, momentum = 0.1, dropout = 0;
  long long in_elements = 0, out_elements = 0;  // per sample
  bool first_trainable = false;  // its input gradient is never needed
};

// The execution plan of a spec for an input shape. Throws InputError when the spec is invalid for
// that input (zero sizes, more pooling than the input allows).
std::vector<Op> plan(const ModelSpec& spec, const InputShape& input);

}  // namespace sedenergy::models
