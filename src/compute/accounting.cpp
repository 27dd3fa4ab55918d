#include "compute/accounting.hpp"

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

ModelCount count(const models::ModelSpec& spec, const models::InputShape& input) {
  ModelCount mc;
  mc.spec = spec;
  mc.input = input;
  const double B = input.batch;
  for (const Op& op : models::plan(spec, input)) {
    LayerCount L;
    switch (op.kind) {
      case OpKind::kLinear:
        L.name = "linear " + std::to_string(op.in) + "->" + std::to_string(op.out);
        L.params = op.in * op.out + op.out;
        gemm_layer(L, B, op.in, op.out, op.first_trainable);
        break;
      case OpKind::kConv2d: {
        L.name = "conv3x3 " + std::to_string(op.in) + "->" + std::to_string(op.out);
        L.params = op.in * op.out * 9 + op.out;
        double positions = B * op.h * op.w;  // stride 1, padding 1: same size
        gemm_layer(L, positions, op.in * 9.0, op.out, op.first_trainable);
        break;
      }
      case OpKind::kRelu:
        L.name = "relu";
        L.forward.elementwise = B * op.in_elements;
        L.backward.elementwise = B * op.in_elements;
        break;
      case OpKind::kMaxPool2d:
        L.name = "maxpool2x2";
        L.forward.elementwise = 3.0 * B * op.out_elements;  // 3 compares per 2x2 window
        L.backward.elementwise = B * op.out_elements;
        break;
      case OpKind::kSoftmax:
        L.name = "softmax";
        L.forward.elementwise = 3.0 * B * op.in_elements;
        L.forward.transcendental = B * op.in_elements;
        L.backward.elementwise = 3.0 * B * op.in_elements;
        break;
      case OpKind::kGru: {
        L.name = "gru " + std::to_string(op.in) + "->" + std::to_string(op.out) + " x" + std::to_string(op.gru_layers);
        const double H = op.out, steps = B * op.seq_len;
        for (int l = 0; l < op.gru_layers; ++l) {
          const double I = l == 0 ? op.in : op.out;
          L.params += static_cast<long long>(3 * H * I + 3 * H * H + 6 * H);
          L.forward.macs += steps * 3 * H * (I + H);
          L.forward.bias += steps * 6 * H;
          L.forward.elementwise += steps * 7 * H;  // 13H non-GEMM FLOPs = 6H bias + 7H gate arithmetic
          L.forward.transcendental += steps * 3 * H;
          const bool skip_input_grad = op.first_trainable && l == 0;
          L.backward.macs += steps * 3 * H * (I + H) + steps * 3 * H * ((skip_input_grad ? 0 : I) + H);
          L.backward.bias += steps * 6 * H;
          L.backward.elementwise += 2 * steps * 7 * H;
        }
        break;
      }
      case OpKind::kFlatten:
      case OpKind::kToSequence:
        continue;  // views: no compute, no new tensor
    }
    L.activation_elements = B * op.out_elements;
    mc.params += L.params;
    mc.forward += L.forward;
    mc.backward += L.backward;
    mc.activation_bytes += 4.0 * L.activation_elements;
    mc.layers.push_back(L);
  }
  // Adam: ~13 FLOPs per parameter per step, one sqrt each.
  mc.optimizer.elementwise = 13.0 * mc.params;
  mc.optimizer.transcendental = static_cast<double>(mc.params);
  return mc;
}

}  // namespace sedenergy::compute
