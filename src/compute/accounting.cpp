#include "compute/accounting.hpp"

#include <optional>

#include "common/error.hpp"

namespace sedenergy::compute {

using models::Op;
using models::OpKind;

Counts& Counts::operator+=(const Counts& o) {
  macs += o.macs;
  bias += o.bias;
  elementwise += o.elementwise;
  transcendental += o.transcendental;
  return *this;
}

namespace {

// Linear-like layer over M rows: forward M*I*O MACs + M*O bias; backward dW and (unless first) dX.
void gemm_layer(LayerCount& L, double m, double i, double o, bool first) {
  L.forward.macs = m * i * o;
  L.forward.bias = m * o;
  L.backward.macs = (first ? 1.0 : 2.0) * m * i * o;
  L.backward.bias = m * o;  // db: sum over rows
}

}  // namespace

namespace {

// One recurrent layer stack (GRU or LSTM, one or two directions), docs/FACTS.md §6.
void recurrent(LayerCount& L, const models::Op& op, double batch) {
  const bool lstm = op.cell == models::Cell::kLstm;
  const double gates = lstm ? 4 : 3;  // weight blocks per layer
  const double H = op.out, steps = batch * op.seq_len, dirs = op.bidirectional ? 2 : 1;
  L.name = std::string(lstm ? "lstm " : "gru ") + std::to_string(op.in) + "->" + std::to_string(op.out) + " x" +
           std::to_string(op.rnn_layers) + (op.bidirectional ? " bi" : "") + " over " + std::to_string(op.seq_len);
  for (int l = 0; l < op.rnn_layers; ++l) {
    const double I = l == 0 ? op.in : dirs * H;
    L.params += static_cast<long long>(dirs * (gates * H * I + gates * H * H + 2 * gates * H));
    L.forward.macs += dirs * steps * gates * H * (I + H);
    L.forward.bias += dirs * steps * 2 * gates * H;
    // GRU: 13H non-GEMM FLOPs = 6H bias + 7H gate arithmetic, 3H transcendentals;
    // LSTM: 16H = 8H bias + 8H gate arithmetic, 5H transcendentals.
    L.forward.elementwise += dirs * steps * (lstm ? 8 : 7) * H;
    L.forward.transcendental += dirs * steps * (lstm ? 5 : 3) * H;
    const bool skip_input_grad = op.first_trainable && l == 0;
    // dW over every step; dX unless the input needs no gradient; dh for every step but the first, whose
    // initial state h0 = 0 is a constant.
    L.backward.macs += dirs * (steps * gates * H * (I + H) + steps * gates * H * (skip_input_grad ? 0 : I) +
                               (steps - batch) * gates * H * H);
    L.backward.bias += dirs * steps * 2 * gates * H;
    L.backward.elementwise += 2 * dirs * steps * (lstm ? 8 : 7) * H;
  }
}

// A Linear layer at op.positions steps, a cuBLAS matrix product.
void linear_layer(LayerCount& L, const Op& op, double B) {
  L.name = "linear " + std::to_string(op.in) + "->" + std::to_string(op.out) +
           (op.positions > 1 ? " at " + std::to_string(op.positions) + " steps" : "");
  L.params = op.in * op.out + op.out;
  L.kind = WorkKind::kMatrix;
  L.cublas = true;
  gemm_layer(L, B * op.positions, op.in, op.out, op.first_trainable);
}

void conv_layer(LayerCount& L, const Op& op, double B) {
  L.name = "conv3x3 " + std::to_string(op.in) + "->" + std::to_string(op.out);
  L.params = op.in * op.out * 9 + op.out;
  L.kind = op.in == 1 ? WorkKind::kSingleChannelConv : WorkKind::kConv;
  const double positions = B * op.h * op.w;  // stride 1, padding 1: same size
  gemm_layer(L, positions, op.in * 9.0, op.out, op.first_trainable);
}

// Eval: scale and shift (2 per element). Training: batch mean and variance (3 per element), then normalise,
// scale and shift (4 per element), one sqrt per channel. Backward: ~8 per element.
void batchnorm_layer(LayerCount& L, const Op& op, double E) {
  L.name = "batchnorm " + std::to_string(op.c);
  L.params = 2 * op.c;
  L.forward.elementwise = 2 * E;
  L.forward_train.elementwise = 7 * E;
  L.forward_train.transcendental = static_cast<double>(op.c);
  L.backward.elementwise = 8 * E;
}

// Linear(C, C) over channels at every position, times sigmoid(x).
void glu_layer(LayerCount& L, const Op& op, double B, double E) {
  L.name = "glu " + std::to_string(op.c);
  L.params = op.c * op.c + op.c;
  L.kind = WorkKind::kMatrix;
  L.cublas = true;
  gemm_layer(L, B * op.h * op.w, op.c, op.c, false);
  L.forward.elementwise = 2 * E;  // 1 / (1 + exp(-x)) and the product
  L.forward.transcendental = E;
  L.backward.elementwise += 4 * E;
}

// Two Linear(in, 10) at every step; sigmoid frame probabilities; softmax over classes, clamped;
// weak = sum_t(strong * att) / sum_t(att).
void attention_heads_layer(LayerCount& L, const Op& op, double B) {
  L.name = "attention heads " + std::to_string(op.in) + "->10 at " + std::to_string(op.positions) + " steps";
  L.params = 2 * (op.in * 10 + 10);
  L.kind = WorkKind::kMatrix;
  L.cublas = true;
  gemm_layer(L, B * op.positions, op.in, 20, false);
  const double P = B * op.positions * 10;
  L.forward.elementwise = 2 * P + 3 * P + P + 3 * P + B * 10;
  L.forward.transcendental = 2 * P;
  L.backward.elementwise = 9 * P;
}

// The elementwise layers (E: the step's input elements); dropout's training forward differs from its eval
// one, which does nothing.
void elementwise_layer(LayerCount& L, const Op& op, double B, double E) {
  switch (op.kind) {
    case OpKind::kRelu:
      L.name = "relu";
      L.forward.elementwise = E;
      L.backward.elementwise = E;
      break;
    case OpKind::kDropout:
      L.name = "dropout";
      L.forward_train.elementwise = 2 * E;  // draw the mask, apply it
      L.backward.elementwise = E;
      break;
    case OpKind::kMaxPool2d:
      L.name = "maxpool2x2";
      L.forward.elementwise = 3.0 * B * op.out_elements;  // 3 compares per 2x2 window
      L.backward.elementwise = B * op.out_elements;
      break;
    case OpKind::kAvgPool2d:
      L.name = "avgpool" + std::to_string(op.pool_h) + "x" + std::to_string(op.pool_w);
      L.forward.elementwise = static_cast<double>(op.pool_h * op.pool_w) * B * op.out_elements;
      L.backward.elementwise = E;
      break;
    case OpKind::kSoftmax:
      L.name = "softmax";
      L.forward.elementwise = 3.0 * E;
      L.forward.transcendental = E;
      L.backward.elementwise = 3.0 * E;
      break;
    default: throw Error("internal: not an elementwise layer");
  }
}

// One op of the plan counted; none for views and layout changes (no arithmetic).
std::optional<LayerCount> count_layer(const Op& op, double B) {
  LayerCount L;
  const double E = B * op.in_elements;  // input elements of the step
  switch (op.kind) {
    case OpKind::kLinear: linear_layer(L, op, B); break;
    case OpKind::kConv2d: conv_layer(L, op, B); break;
    case OpKind::kBatchNorm2d: batchnorm_layer(L, op, E); break;
    case OpKind::kGlu: glu_layer(L, op, B, E); break;
    case OpKind::kAttentionHeads: attention_heads_layer(L, op, B); break;
    case OpKind::kRnn:
      recurrent(L, op, B);
      L.kind = op.seq_len > 1 ? WorkKind::kSerialRecurrent : WorkKind::kMatrix;
      break;
    case OpKind::kRelu:
    case OpKind::kDropout:
    case OpKind::kMaxPool2d:
    case OpKind::kAvgPool2d:
    case OpKind::kSoftmax: elementwise_layer(L, op, B, E); break;
    case OpKind::kFlatten:
    case OpKind::kSwapAxes:
    case OpKind::kToSequence:
    case OpKind::kPermuteToSequence: return std::nullopt;
  }
  const bool train_differs = op.kind == OpKind::kBatchNorm2d || op.kind == OpKind::kDropout;
  if (!train_differs) L.forward_train = L.forward;
  L.activation_elements = B * op.out_elements;
  if (op.kind == OpKind::kRnn) {
    // Saved for backward at every step of every layer and direction: the gates and the hidden state.
    const double gates = op.cell == models::Cell::kLstm ? 4 : 3, dirs = op.bidirectional ? 2 : 1;
    L.activation_elements = B * op.seq_len * op.rnn_layers * dirs * (gates + 1) * op.out;
  }
  return L;
}

}  // namespace

ModelCount count(const models::ModelSpec& spec, const models::InputShape& input) {
  ModelCount mc;
  mc.spec = spec;
  mc.input = input;
  for (const Op& op : models::plan(spec, input)) {
    const auto L = count_layer(op, input.batch);
    if (!L) continue;
    mc.params += L->params;
    mc.forward += L->forward;
    mc.forward_train += L->forward_train;
    mc.backward += L->backward;
    mc.activation_bytes += 4.0 * L->activation_elements;
    mc.layers.push_back(*L);
  }
  // Adam: ~13 FLOPs per parameter per step, one sqrt each.
  mc.optimizer.elementwise = 13.0 * mc.params;
  mc.optimizer.transcendental = static_cast<double>(mc.params);
  return mc;
}

const char* work_kind_name(WorkKind k) {
  switch (k) {
    case WorkKind::kMatrix: return "matrix";
    case WorkKind::kSingleChannelConv: return "one-channel conv";
    case WorkKind::kConv: return "conv";
    case WorkKind::kSerialRecurrent: return "recurrent steps";
    case WorkKind::kElementwise: break;
  }
  return "element-wise";
}

WorkSplit work_split(const ModelCount& c, bool train) {
  WorkSplit w;
  for (const auto& L : c.layers) {
    const double flops = train ? L.forward_train.flops() + L.backward.flops() : L.forward.flops();
    switch (L.kind) {
      case WorkKind::kMatrix:
        w.matrix += flops;
        if (L.cublas) w.cublas_matrix += flops;
        break;
      case WorkKind::kSingleChannelConv: w.single_channel_conv += flops; break;
      case WorkKind::kConv: w.conv += flops; break;
      case WorkKind::kSerialRecurrent: w.serial_recurrent += flops; break;
      case WorkKind::kElementwise: break;
    }
  }
  return w;
}

Convention parse_convention(const std::string& name) {
  if (name == "sedenergy") return Convention::kSedenergy;
  if (name == "torch") return Convention::kTorch;
  if (name == "deepspeed") return Convention::kDeepSpeed;
  if (name == "thop") return Convention::kThop;
  if (name == "fvcore") return Convention::kFvcore;
  throw InputError("unknown FLOP convention '" + name + "' (known: sedenergy, torch, deepspeed, thop, fvcore)");
}

namespace {

// thop's GRU/LSTM rule for one cell and one step: every gate's input and hidden products plus both biases,
// and the gate arithmetic as one op per element (rnn_hooks in thop).
double thop_cell(double in, double hidden, bool lstm) {
  const double gate = (in + hidden) * hidden + hidden + 2 * hidden;
  return lstm ? 4 * gate + 4 * hidden : 3 * gate + 4 * hidden;
}

double thop_recurrent(const models::Op& op, double batch) {
  const double dirs = op.bidirectional ? 2 : 1;
  const bool lstm = op.cell == models::Cell::kLstm;
  double per_step = 0;
  for (int l = 0; l < op.rnn_layers; ++l) per_step += dirs * thop_cell(l == 0 ? op.in : dirs * op.out, op.out, lstm);
  return per_step * op.seq_len * batch;
}

}  // namespace

ConventionCount convention_count(const ModelCount& c, Convention conv, const models::ModelSpec& spec,
                                 const models::InputShape& input) {
  ConventionCount r;
  if (conv == Convention::kSedenergy) {
    r.forward_flops = c.forward.flops();
    r.forward_macs = c.forward.macs;
    r.train_step_flops = c.train_step_flops();
    return r;
  }
  const double B = input.batch;
  double fwd_gemm = 0, bwd_gemm = 0;
  double tool_macs = 0;  // thop / fvcore: the number the tool prints (MACs, which both call FLOPs)
  std::size_t li = 0;
  for (const Op& op : models::plan(spec, input)) {
    if (op.kind == OpKind::kFlatten || op.kind == OpKind::kSwapAxes || op.kind == OpKind::kToSequence ||
        op.kind == OpKind::kPermuteToSequence) {
      continue;  // count() skipped these too, so layers stay aligned
    }
    const LayerCount& L = c.layers.at(li++);
    const double E = B * op.in_elements;
    const bool lstm = op.kind == OpKind::kRnn && op.cell == models::Cell::kLstm;
    switch (conv) {
      case Convention::kTorch:
        if (!lstm) fwd_gemm += L.forward.macs, bwd_gemm += L.backward.macs;
        break;
      case Convention::kThop:  // module hooks in eval mode: weights' MACs, no bias; ReLU/pools/dropout free
        switch (op.kind) {
          case OpKind::kLinear:
          case OpKind::kConv2d:
          case OpKind::kGlu: tool_macs += L.forward.macs; break;  // GLU: its Linear; nn.Sigmoid has no rule
          case OpKind::kBatchNorm2d: tool_macs += 4 * E; break;    // 2 per element, x2 when affine
          case OpKind::kAvgPool2d: tool_macs += B * op.out_elements; break;
          case OpKind::kSoftmax: tool_macs += E / 10 * (3 * 10 - 1); break;  // exp, add, divide over 10 classes
          case OpKind::kAttentionHeads:  // two Linear(in, 10) and an nn.Softmax over the 10 classes per step
            tool_macs += L.forward.macs + B * op.positions * (3 * 10 - 1);
            break;
          case OpKind::kRnn: tool_macs += thop_recurrent(op, B); break;
          default: break;
        }
        break;
      case Convention::kFvcore:  // traced aten ops, one MAC = one flop: linear, convolution, batch_norm
        switch (op.kind) {
          case OpKind::kLinear:
          case OpKind::kConv2d:
          case OpKind::kGlu:
          case OpKind::kAttentionHeads: tool_macs += L.forward.macs; break;
          case OpKind::kBatchNorm2d: tool_macs += 2 * E; break;  // eval mode, affine
          default: break;  // relu, pools, softmax, sigmoid and aten::gru/lstm have no handle: 0
        }
        break;
      default:  // DeepSpeed
        switch (op.kind) {
          case OpKind::kLinear: r.forward_flops += 2 * L.forward.macs; r.forward_macs += L.forward.macs; break;
          case OpKind::kConv2d:
            r.forward_flops += 2 * L.forward.macs + L.forward.bias;
            r.forward_macs += L.forward.macs;
            break;
          case OpKind::kRelu:
          case OpKind::kMaxPool2d:
          case OpKind::kSoftmax: r.forward_flops += E; break;
          case OpKind::kRnn: r.forward_flops += L.forward.flops(); break;  // FLOPs, but 0 MACs
          default: r.forward_flops += L.forward.flops(); r.forward_macs += L.forward.macs; break;
        }
    }
  }
  if (conv == Convention::kTorch) {
    r.forward_flops = 2 * fwd_gemm;
    r.forward_macs = fwd_gemm;
    r.train_step_flops = 2 * (fwd_gemm + bwd_gemm);
  } else if (conv == Convention::kThop || conv == Convention::kFvcore) {
    r.forward_macs = tool_macs;
    r.forward_flops = 2 * tool_macs;
    r.train_step_flops = 3 * r.forward_flops;
  } else {
    r.train_step_flops = 3 * r.forward_flops;
  }
  return r;
}

Traffic dram_traffic(const ModelCount& c) {
  Traffic t;
  const double weights = 4.0 * c.params, input = 4.0 * c.input.batch * c.input.mels * c.input.frames;
  t.test_step_bytes = weights + input + c.activation_bytes;
  t.train_step_bytes = weights + input + c.activation_bytes  // forward
                       + c.activation_bytes + weights + weights  // backward: outputs read, weights read, grads written
                       + 7.0 * weights;                          // Adam
  t.test_intensity = c.test_step_flops() / t.test_step_bytes;
  t.train_intensity = c.train_step_flops() / t.train_step_bytes;
  return t;
}

MemoryEstimate training_memory(const ModelCount& c) {
  MemoryEstimate m;
  m.weights = 4.0 * c.params;
  m.gradients = 4.0 * c.params;
  m.optimizer = 8.0 * c.params;
  m.activations = 2.0 * c.activation_bytes;
  m.input = 4.0 * c.input.batch * c.input.mels * c.input.frames;
  return m;
}

}  // namespace sedenergy::compute
