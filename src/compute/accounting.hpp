// Analytic compute accounting from a ModelSpec (docs/FACTS.md §6): parameters, MACs and FLOPs split into
// GEMM, bias, element-wise and transcendental parts, for forward, backward and the Adam step.
// GEMM and bias terms are exact; element-wise terms of backward passes, batch norm and attention follow the
// stated conventions (counts per element written next to each layer in accounting.cpp).
#pragma once
#include <string>
#include <vector>

#include "models/spec.hpp"

namespace sedenergy::compute {

struct Counts {
  double macs = 0;            // multiply-accumulates of GEMMs / convolutions
  double bias = 0;            // bias additions
  double elementwise = 0;     // other element-wise ops (activations, gates, compares, optimizer)
  double transcendental = 0;  // exp, tanh, sigmoid, sqrt (counted separately, not in flops())
  double flops() const { return 2 * macs + bias + elementwise; }
  Counts& operator+=(const Counts& o);
};

// The kinds of work whose kernels run at very different rates on one GPU (docs/FACTS.md §6.4): matrix
// products (linear layers, attention heads, GLU gates, recurrent layers over a single step), convolutions
// over one input channel (nine multiply-adds per output, memory-bound: ~1 TFLOP/s measured on an H100
// against ~150 for convolutions over many channels), other convolutions, and recurrent layers over many
// steps (one step after the other, latency-bound). Element-wise work (activations, pooling,
// normalisation, the optimizer) is none of them.
enum class WorkKind { kElementwise, kMatrix, kSingleChannelConv, kConv, kSerialRecurrent };
const char* work_kind_name(WorkKind k);  // "element-wise", "matrix", "one-channel conv", "conv", "recurrent steps"

struct LayerCount {
  std::string name;      // "linear 8192->512", "gru 64->64 x1"
  WorkKind kind = WorkKind::kElementwise;
  bool cublas = false;  // its products run through cuBLAS (a torch Linear), not cuDNN: see WorkSplit
  long long params = 0;
  Counts forward;        // inference (eval mode: dropout off, batch norm with running statistics)
  Counts forward_train;  // training mode (dropout masks, batch statistics)
  Counts backward;
  double activation_elements = 0;  // output elements per step (all samples)
};

struct ModelCount {
  models::ModelSpec spec;
  models::InputShape input;
  long long params = 0;
  std::vector<LayerCount> layers;
  Counts forward;        // one test step at input.batch (eval mode)
  Counts forward_train;  // the forward pass of one training step
  Counts backward;       // one step at input.batch
  Counts optimizer;      // Adam, one step
  double train_step_flops() const { return forward_train.flops() + backward.flops() + optimizer.flops(); }
  double test_step_flops() const { return forward.flops(); }
  double weight_bytes() const { return 4.0 * params; }  // float32
  double activation_bytes = 0;                           // outputs kept for backward, one step
};

ModelCount count(const models::ModelSpec& spec, const models::InputShape& input);

// FLOPs of one step by kind of work: the forward pass (test) or forward and backward (training).
struct WorkSplit {
  double matrix = 0, single_channel_conv = 0, conv = 0, serial_recurrent = 0;
  // The part of `matrix` run through cuBLAS (linear layers, GLU gates, attention heads): in PyTorch's float32
  // defaults these products run in IEEE float32 and cuDNN's (convolutions, RNNs) on TF32 (docs/FACTS.md §6.4).
  double cublas_matrix = 0;
};
WorkSplit work_split(const ModelCount& c, bool train);

// Conventions of other counters, to compare with numbers reported elsewhere (docs/FACTS.md §6).
//   sedenergy  this file's counts: FLOPs = 2 MACs + bias + element-wise, forward + backward + Adam
//   torch      PyTorch's FlopCounterMode: 2 x MACs of matrix products and convolutions only, forward and
//              backward; on the CPU it sees no LSTM arithmetic (fused kernel) and on CUDA no cuDNN RNN
//              at all, so those layers count 0, as there
//   deepspeed  the DeepSpeed profiler (the study's counter): Linear 2 x MACs without bias, Conv 2 x MACs
//              with bias, ReLU / MaxPool / Softmax one FLOP per input element, GRU/LSTM FLOPs (our
//              formula) with 0 MACs; training taken as 3 x forward, as the study did
//   thop       thop's module hooks (eval mode): MACs of Linear / Conv without bias, BatchNorm 4 per
//              element, nn.Softmax 3n-1 per row, ReLU / MaxPool / Dropout / Sigmoid 0, GRU / LSTM by
//              its cell formula (gate products, biases and one op per gate element)
//   fvcore     fvcore's FlopCountAnalysis: one MAC = one flop for aten::linear / convolution, batch norm
//              2 per element in eval mode, everything else (activations, pools, aten::gru / lstm) 0
//   thop and fvcore print MACs and call them FLOPs: forward_macs holds that number, forward_flops 2x it;
//   neither counts training, so a training step is taken as 3 x forward, as with deepspeed.
enum class Convention { kSedenergy, kTorch, kDeepSpeed, kThop, kFvcore };
Convention parse_convention(const std::string& name);  // throws InputError
struct ConventionCount {
  double forward_flops = 0, forward_macs = 0;
  double train_step_flops = 0;  // per training step at the input's batch
};
ConventionCount convention_count(const ModelCount& c, Convention conv, const models::ModelSpec& spec,
                                 const models::InputShape& input);

// Memory one training step needs, estimated before anything is allocated: weights, gradients and Adam's
// two moments (4 x 4 bytes per parameter), every layer output kept for backward plus its gradient
// (2 x 4 bytes per activation element), and the input batch.
struct MemoryEstimate {
  double weights = 0, gradients = 0, optimizer = 0, activations = 0, input = 0;
  double total() const { return weights + gradients + optimizer + activations + input; }
};
MemoryEstimate training_memory(const ModelCount& c);

// A lower bound of DRAM traffic per step, assuming every tensor moves once: the test step reads the
// weights and the input and writes each layer output; the training step also writes every output
// during forward and reads it back in backward, reads the weights again for the input gradients, writes
// the weight gradients, and Adam reads weights, gradients and both moments and writes three of them
// (7 x 4 bytes per parameter).
struct Traffic {
  double test_step_bytes = 0, train_step_bytes = 0;
  double test_intensity = 0, train_intensity = 0;  // FLOPs per byte
};
Traffic dram_traffic(const ModelCount& c);

}  // namespace sedenergy::compute
