"""Parameters, MACs and FLOPs of your own PyTorch model, as a DCASE submission asks for them.

    import torch, sedenergy
    c = sedenergy.complexity(model, torch.zeros(1, 1, 128, 626))   # one input: 10 s at 16 kHz, hop 256
    c.params, c.trainable_params, c.macs, c.flops                    # per forward of that input
    print(c.table())                                                 # by kind of operation
    c.convention("thop").macs                                        # what thop would print
    c += sedenergy.complexity(encoder, torch.zeros(1, 160000))       # a pretrained encoder whose embeddings
                                                                     # the training reads from disk

Every operation the forward pass runs is seen (a torch function mode: modules, functional calls and tensor
methods alike) and counted by formula, in four parts (docs/FACTS.md §6): multiply-accumulates of matrix
products (MACs), bias adds, other element-wise operations and transcendentals; FLOPs = 2 x MACs + bias adds +
element-wise operations. Recurrent layers (GRU, LSTM, RNN; several layers, bidirectional), attention
(nn.MultiheadAttention, scaled_dot_product_attention, matmul/bmm/einsum written by hand), convolutions,
normalisation, pooling and point-wise operations are counted. An operation with no rule is never a silent
zero: `uncounted` names it with how often it ran, and the table says so. Operations that move data only (views,
reshapes, concatenation, indexing) cost nothing.

Conventions of other counters, for comparison with published numbers (each op's rule is in RULES):
  sedenergy  the four parts above (the study's accounting; equal to `sedenergy flops` for its models)
  torch      PyTorch's FlopCounterMode: 2 x MACs of matrix products and convolutions (LSTM: 0, a fused kernel)
  thop       thop's module rules: MACs of Linear/Conv without bias, BatchNorm 4 per element, Softmax 3n-1 per
             row, GRU/LSTM by its cell formula, activations and pools 0
  fvcore     fvcore: MACs of linear, convolution, matmul and einsum, BatchNorm 2 per element, the rest 0
  deepspeed  the DeepSpeed profiler (the study's): Linear 2 x MACs, Conv 2 x MACs + bias, activations, pools and
             softmax one FLOP per input element, recurrent layers their FLOPs with 0 MACs
"""
import dataclasses
import math
from collections import OrderedDict

from .errors import SedenergyError

CONVENTIONS = ("sedenergy", "torch", "thop", "fvcore", "deepspeed")


@dataclasses.dataclass
class OpCount:
    """One operation as it ran: its name, kind, the four parts, and what each other counter would say."""
    name: str
    kind: str
    macs: float = 0.0
    bias: float = 0.0
    elementwise: float = 0.0
    transcendental: float = 0.0
    # Where another counter's rule differs from this count: convention -> MACs (torch, thop, fvcore: the
    # number they print; FLOPs taken as 2x it) or (MACs, FLOPs) (deepspeed). Absent: the MACs above (and for
    # deepspeed these FLOPs).
    tools: dict = dataclasses.field(default_factory=dict)

    @property
    def flops(self):
        return 2 * self.macs + self.bias + self.elementwise


@dataclasses.dataclass
class ConventionCount:
    convention: str
    macs: float
    flops: float


class Complexity:
    """The count of one or more models' forward passes (add them with +)."""

    def __init__(self, params=0, trainable_params=0, ops=None, uncounted=None, inputs=None):
        self.params, self.trainable_params = params, trainable_params
        self.ops = list(ops or [])
        self.uncounted = OrderedDict(uncounted or {})  # op name -> times it ran without a rule
        self.inputs = list(inputs or [])  # the input shapes, one per model counted

    def _sum(self, part):
        return float(sum(getattr(o, part) for o in self.ops))

    macs = property(lambda self: self._sum("macs"))
    bias = property(lambda self: self._sum("bias"))
    elementwise = property(lambda self: self._sum("elementwise"))
    transcendental = property(lambda self: self._sum("transcendental"))
    flops = property(lambda self: self._sum("flops"))

    @property
    def complete(self):
        """True when every operation that computes was counted by a rule."""
        return not self.uncounted

    def convention(self, name):
        """The numbers another counter would print (see the module's help): MACs and FLOPs per forward."""
        if name not in CONVENTIONS:
            raise SedenergyError(f"convention {name!r}: expected one of {', '.join(CONVENTIONS)}")
        if name == "sedenergy":
            return ConventionCount(name, self.macs, self.flops)
        if name == "deepspeed":
            pairs = [o.tools.get(name, (o.macs, o.flops)) for o in self.ops]
            return ConventionCount(name, float(sum(m for m, _ in pairs)), float(sum(f for _, f in pairs)))
        macs = float(sum(o.tools.get(name, o.macs) for o in self.ops))
        return ConventionCount(name, macs, 2 * macs)

    def by_kind(self):
        """{kind: {"ops": n, "macs": ..., "flops": ...}} in the order kinds first ran."""
        kinds = OrderedDict()
        for o in self.ops:
            k = kinds.setdefault(o.kind, {"ops": 0, "macs": 0.0, "bias": 0.0, "elementwise": 0.0,
                                          "transcendental": 0.0, "flops": 0.0})
            k["ops"] += 1
            for part in ("macs", "bias", "elementwise", "transcendental", "flops"):
                k[part] += getattr(o, part)
        return kinds

    def __add__(self, other):
        uncounted = OrderedDict(self.uncounted)
        for name, n in other.uncounted.items():
            uncounted[name] = uncounted.get(name, 0) + n
        return Complexity(self.params + other.params, self.trainable_params + other.trainable_params,
                          self.ops + other.ops, uncounted, self.inputs + other.inputs)

    def to_dict(self):
        return {"params": self.params, "trainable_params": self.trainable_params, "macs": self.macs,
                "flops": self.flops, "bias": self.bias, "elementwise": self.elementwise,
                "transcendental": self.transcendental, "inputs": self.inputs, "by_kind": self.by_kind(),
                "conventions": {c: dataclasses.asdict(self.convention(c)) for c in CONVENTIONS},
                "uncounted": dict(self.uncounted)}

    def table(self):
        """A plain-text table by kind of operation, with the totals and what was not counted."""
        lines = [f"{'kind':<14}{'ops':>6}{'MACs':>16}{'FLOPs':>16}"]
        for kind, k in self.by_kind().items():
            lines.append(f"{kind:<14}{k['ops']:>6}{k['macs']:>16,.0f}{k['flops']:>16,.0f}")
        lines.append(f"{'total':<14}{len(self.ops):>6}{self.macs:>16,.0f}{self.flops:>16,.0f}")
        lines.append(f"parameters: {self.params:,} ({self.trainable_params:,} trainable)")
        if self.uncounted:
            lines.append("NOT COUNTED (no rule; the totals leave them out): " +
                         ", ".join(f"{n} x{c}" for n, c in self.uncounted.items()))
        return "\n".join(lines)

    def __repr__(self):
        return (f"Complexity(params={self.params}, macs={self.macs:.6g}, flops={self.flops:.6g}, "
                f"uncounted={dict(self.uncounted)})")


# ---- the rules: one function per operation, from its arguments and result to an OpCount ----

def _numel(t):
    return float(t.numel()) if hasattr(t, "numel") else 0.0


def _first_tensor(x):
    import torch
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, (tuple, list)):
        for e in x:
            t = _first_tensor(e)
            if t is not None:
                return t
    return None


def _arg(args, kwargs, i, name, default=None):
    return args[i] if len(args) > i else kwargs.get(name, default)


def _linear(args, kwargs, out):
    x, w = args[0], args[1]
    b = _arg(args, kwargs, 2, "bias")
    rows = _numel(x) / w.shape[1]
    macs = rows * w.shape[1] * w.shape[0]
    bias = rows * w.shape[0] if b is not None else 0.0
    return OpCount("linear", "linear", macs, bias, tools={"deepspeed": (macs, 2 * macs)})


def _conv(args, kwargs, out):
    x, w = args[0], args[1]
    b = _arg(args, kwargs, 2, "bias")
    macs = _numel(out) * w.shape[1] * math.prod(w.shape[2:])  # w: (Cout, Cin/groups, k...)
    bias = _numel(out) if b is not None else 0.0
    return OpCount("conv", "conv", macs, bias, tools={"deepspeed": (macs, 2 * macs + bias)})


def _conv_transpose(args, kwargs, out):
    x, w = args[0], args[1]  # w: (Cin, Cout/groups, k...)
    b = _arg(args, kwargs, 2, "bias")
    macs = _numel(x) * w.shape[1] * math.prod(w.shape[2:])
    bias = _numel(out) if b is not None else 0.0
    return OpCount("conv_transpose", "conv", macs, bias, tools={"deepspeed": (macs, 2 * macs + bias)})


def _matmul(args, kwargs, out):
    a = args[0]
    k = a.shape[-1] if a.dim() > 0 else 1
    macs = _numel(out) * k
    return OpCount("matmul", "matmul", macs, tools={"thop": 0.0})


def _addmm(args, kwargs, out):  # bias + m1 @ m2 (addmm, baddbmm, addbmm)
    m1 = args[1]
    macs = (_numel(out) * m1.shape[-1]) * (m1.shape[0] if m1.dim() == 3 and out.dim() == 2 else 1)
    return OpCount("addmm", "matmul", macs, _numel(out), tools={"thop": 0.0})


def _einsum(args, kwargs, out):
    equation, operands = args[0], args[1:]
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    sizes = {}
    for spec, t in zip(equation.split("->")[0].replace(" ", "").split(","), operands):
        for letter, size in zip(spec, t.shape):
            sizes[letter] = size
    macs = float(math.prod(sizes.values())) if len(operands) > 1 else 0.0
    return OpCount("einsum", "matmul", macs, elementwise=0.0 if len(operands) > 1 else _numel(operands[0]),
                   tools={"thop": 0.0})


def _rnn(cell):
    """_VF.gru / lstm / rnn_tanh / rnn_relu: per layer and direction, every step's gate products, both biases,
    the gate arithmetic and its transcendentals (docs/FACTS.md §6; PyTorch's GRU and LSTM equations)."""
    gates = {"gru": 3, "lstm": 4}.get(cell, 1)
    arith = {"gru": 7, "lstm": 8}.get(cell, 1)  # element-wise per hidden unit beyond the biases
    trans = {"gru": 3, "lstm": 5}.get(cell, 1 if cell == "rnn_tanh" else 0)

    def rule(args, kwargs, out):
        import torch
        packed = isinstance(args[1], torch.Tensor) and args[1].dtype == torch.int64 and args[1].dim() == 1
        if packed:  # (data, batch_sizes, hx, params, has_biases, layers, dropout, train, bidirectional)
            steps = float(args[0].shape[0])
            params, has_biases, layers, bidirectional = args[3], args[4], args[5], args[8]
        else:  # (input, hx, params, has_biases, layers, dropout, train, bidirectional, batch_first)
            steps = _numel(args[0]) / args[0].shape[-1]
            params, has_biases, layers, bidirectional = args[2], args[3], args[4], args[7]
        dirs = 2 if bidirectional else 1
        per_layer = len(params) // (layers * dirs)
        if per_layer not in (2, 4):
            raise SedenergyError(f"{cell}: {per_layer} weight tensors per layer (an LSTM with proj_size?): no rule")
        c = OpCount(cell, "recurrent", tools={})
        thop = 0.0
        for i in range(layers * dirs):
            w_ih = params[i * per_layer]
            hidden, inputs = w_ih.shape[0] // gates, w_ih.shape[1]
            c.macs += steps * gates * hidden * (inputs + hidden)
            c.bias += steps * 2 * gates * hidden if has_biases else 0.0
            c.elementwise += steps * arith * hidden
            c.transcendental += steps * trans * hidden
            gate = (inputs + hidden) * hidden + hidden + 2 * hidden  # thop's rule for one gate of one step
            thop += steps * ((4 * gate + 4 * hidden) if cell == "lstm" else (3 * gate + 4 * hidden))
        c.tools = {"thop": thop, "fvcore": 0.0, "deepspeed": (0.0, c.flops),
                   "torch": 0.0 if cell == "lstm" else c.macs}
        return c
    return rule


def _attention_core(name, batch_heads, q_len, kv_len, head_dim, v_dim):
    """Scores q k^T (scaled), softmax over the keys, then the values: the part of attention between projections."""
    scores = batch_heads * q_len * kv_len
    return OpCount(name, "attention", macs=scores * head_dim + scores * v_dim, elementwise=scores + 3 * scores,
                   transcendental=scores, tools={"thop": 0.0})


def _sdpa(args, kwargs, out):
    q, k, v = args[0], args[1], args[2]
    batch_heads = _numel(q) / (q.shape[-2] * q.shape[-1])
    return _attention_core("scaled_dot_product_attention", batch_heads, q.shape[-2], k.shape[-2], q.shape[-1],
                           v.shape[-1])


def _mha(seq_first):
    """F.multi_head_attention_forward (sequence first) and torch._native_multi_head_attention (batch first): the
    in-projections of query, key and value, every head's attention, the out-projection (the heads' weights
    averaged for need_weights are left out). Arguments: query, key, value, embed_dim, num_heads, ..."""
    def rule(args, kwargs, out):
        q, k, v, embed, heads = args[0], args[1], args[2], args[3], args[4]
        tokens_q, tokens_kv = _numel(q) / embed, _numel(k) / k.shape[-1]
        q_len = q.shape[0] if seq_first or q.dim() == 2 else q.shape[1]
        kv_len = k.shape[0] if seq_first or k.dim() == 2 else k.shape[1]
        c = _attention_core("multi_head_attention", tokens_q / q_len * heads, q_len, kv_len, embed / heads,
                            embed / heads)
        c.macs += embed * (tokens_q * embed + tokens_kv * k.shape[-1] + tokens_kv * v.shape[-1]) + tokens_q * embed * embed
        c.bias = (tokens_q + 2 * tokens_kv) * embed + tokens_q * embed
        return c
    return rule


def _per_element(name, kind, elementwise, transcendental=0.0, on="input", thop=0.0, fvcore=0.0, deepspeed=1.0):
    """A point-wise operation: so many element-wise operations and transcendentals per element of its input (or
    output); other counters' rules per element too."""
    def rule(args, kwargs, out):
        t = _first_tensor(args) if on == "input" else _first_tensor(out)
        n = _numel(t) if t is not None else _numel(_first_tensor(out))
        return OpCount(name, kind, elementwise=elementwise * n, transcendental=transcendental * n,
                       tools={"thop": thop * n, "fvcore": fvcore * n, "deepspeed": (0.0, deepspeed * n)})
    return rule


def _softmax(args, kwargs, out):
    x = args[0]
    dim = _arg(args, kwargs, 1, "dim")
    n = x.shape[dim] if dim is not None and x.dim() > 0 else _numel(x)
    rows = _numel(x) / max(n, 1)
    return OpCount("softmax", "softmax", elementwise=3 * _numel(x), transcendental=_numel(x),
                   tools={"thop": rows * (3 * n - 1), "fvcore": 0.0, "deepspeed": (0.0, _numel(x))})


def _pool(kind):
    def rule(args, kwargs, out):
        k = _arg(args, kwargs, 1, "kernel_size")
        window = math.prod(k) if isinstance(k, (tuple, list)) else k ** (args[0].dim() - 2)
        o = _numel(_first_tensor(out))
        per = window - 1 if kind == "max" else window
        return OpCount(f"{kind}_pool", "pool", elementwise=per * o,
                       tools={"thop": o if kind == "avg" else 0.0, "fvcore": 0.0,
                              "deepspeed": (0.0, _numel(args[0]))})
    return rule


def _adaptive_pool(args, kwargs, out):
    return OpCount("adaptive_pool", "pool", elementwise=_numel(args[0]),
                   tools={"thop": _numel(_first_tensor(out)), "fvcore": 0.0, "deepspeed": (0.0, _numel(args[0]))})


def _batch_norm(args, kwargs, out):
    x = args[0]
    training = _arg(args, kwargs, 5, "training", False)
    n = _numel(x)
    c = OpCount("batch_norm", "norm", elementwise=(7 if training else 2) * n,
                transcendental=float(x.shape[1]) if training and x.dim() > 1 else 0.0,
                tools={"thop": 4 * n, "fvcore": 2 * n})
    return c


def _layer_norm(args, kwargs, out):
    x = args[0]
    shape = _arg(args, kwargs, 1, "normalized_shape")
    weight = _arg(args, kwargs, 2, "weight")
    n = _numel(x)
    rows = n / max(math.prod(shape), 1)
    c = OpCount("layer_norm", "norm", elementwise=(7 if weight is not None else 5) * n, transcendental=rows,
                tools={"thop": 2 * n, "fvcore": 5 * n})
    return c


def _group_norm(args, kwargs, out):
    x = args[0]
    groups = _arg(args, kwargs, 1, "num_groups")
    n = _numel(x)
    c = OpCount("group_norm", "norm", elementwise=7 * n, transcendental=float(x.shape[0] * groups),
                tools={"thop": 2 * n, "fvcore": 5 * n})
    return c


def _dropout(args, kwargs, out):
    training = _arg(args, kwargs, 2, "training", True)
    n = _numel(args[0]) if training else 0.0
    return OpCount("dropout", "pointwise", elementwise=2 * n,
                   tools={"thop": 0.0, "fvcore": 0.0, "deepspeed": (0.0, n)})


def _binary(name):
    return _per_element(name, "pointwise", 1.0, on="output", deepspeed=1.0)


def _reduction(name):
    return _per_element(name, "pointwise", 1.0, on="input", deepspeed=1.0)


# Operation name (torch function or tensor method, as the function mode sees it) -> its rule.
RULES = {
    "linear": _linear,
    "conv1d": _conv, "conv2d": _conv, "conv3d": _conv,
    "conv_transpose1d": _conv_transpose, "conv_transpose2d": _conv_transpose, "conv_transpose3d": _conv_transpose,
    "matmul": _matmul, "__matmul__": _matmul, "__rmatmul__": _matmul, "mm": _matmul, "bmm": _matmul, "mv": _matmul,
    "addmm": _addmm, "baddbmm": _addmm, "addbmm": _addmm, "einsum": _einsum,
    "gru": _rnn("gru"), "lstm": _rnn("lstm"), "rnn_tanh": _rnn("rnn_tanh"), "rnn_relu": _rnn("rnn_relu"),
    "scaled_dot_product_attention": _sdpa,
    "multi_head_attention_forward": _mha(seq_first=True), "_native_multi_head_attention": _mha(seq_first=False),
    "softmax": _softmax, "log_softmax": _softmax, "_softmax": _softmax,
    "relu": _per_element("relu", "pointwise", 1), "relu_": _per_element("relu", "pointwise", 1),
    "leaky_relu": _per_element("leaky_relu", "pointwise", 2), "hardtanh": _per_element("hardtanh", "pointwise", 2),
    "elu": _per_element("elu", "pointwise", 3, 1), "selu": _per_element("selu", "pointwise", 4, 1),
    "gelu": _per_element("gelu", "pointwise", 4, 1), "silu": _per_element("silu", "pointwise", 3, 1),
    "mish": _per_element("mish", "pointwise", 4, 3),
    "sigmoid": _per_element("sigmoid", "pointwise", 2, 1), "tanh": _per_element("tanh", "pointwise", 0, 1),
    "exp": _per_element("exp", "pointwise", 0, 1), "log": _per_element("log", "pointwise", 0, 1),
    "sqrt": _per_element("sqrt", "pointwise", 0, 1), "rsqrt": _per_element("rsqrt", "pointwise", 0, 1),
    "erf": _per_element("erf", "pointwise", 0, 1), "pow": _per_element("pow", "pointwise", 0, 1),
    "glu": _per_element("glu", "pointwise", 1, 0.5),  # half the input: sigmoid of one half times the other
    "max_pool1d": _pool("max"), "max_pool2d": _pool("max"), "max_pool3d": _pool("max"),
    "avg_pool1d": _pool("avg"), "avg_pool2d": _pool("avg"), "avg_pool3d": _pool("avg"),
    "adaptive_avg_pool1d": _adaptive_pool, "adaptive_avg_pool2d": _adaptive_pool,
    "adaptive_max_pool1d": _adaptive_pool, "adaptive_max_pool2d": _adaptive_pool,
    "batch_norm": _batch_norm, "instance_norm": _batch_norm, "layer_norm": _layer_norm, "group_norm": _group_norm,
    "dropout": _dropout, "dropout2d": _dropout, "feature_dropout": _dropout, "alpha_dropout": _dropout,
    "add": _binary("add"), "__add__": _binary("add"), "__radd__": _binary("add"), "add_": _binary("add"),
    "__iadd__": _binary("add"), "sub": _binary("sub"), "__sub__": _binary("sub"), "__rsub__": _binary("sub"),
    "sub_": _binary("sub"), "mul": _binary("mul"), "__mul__": _binary("mul"), "__rmul__": _binary("mul"),
    "mul_": _binary("mul"), "__imul__": _binary("mul"), "div": _binary("div"), "__truediv__": _binary("div"),
    "__rtruediv__": _binary("div"), "div_": _binary("div"), "neg": _binary("neg"), "__neg__": _binary("neg"),
    "abs": _binary("abs"), "clamp": _binary("clamp"), "clamp_": _binary("clamp"), "clamp_min": _binary("clamp"),
    "maximum": _binary("max"), "minimum": _binary("min"), "where": _binary("where"),
    "sum": _reduction("sum"), "mean": _reduction("mean"), "amax": _reduction("max"), "max": _reduction("max"),
    "amin": _reduction("min"), "min": _reduction("min"), "logsumexp": _per_element("logsumexp", "pointwise", 2, 1),
    "cumsum": _reduction("cumsum"), "norm": _per_element("norm", "pointwise", 2, 0),
}
# Operations that move or view data, or read shapes: no arithmetic.
NO_ARITHMETIC = set("""
view view_as reshape reshape_as flatten unflatten transpose permute contiguous squeeze unsqueeze expand expand_as
repeat repeat_interleave cat concat stack chunk split split_with_sizes unbind narrow select index_select gather
__getitem__ __setitem__ __get__ __len__ __iter__ __format__ __repr__ size dim numel shape stride t mT flip roll pad
zeros zeros_like ones ones_like empty empty_like full full_like arange linspace randn rand randint randperm tensor
to cpu cuda float double half bfloat16 type type_as detach clone copy_ fill_ zero_ masked_fill masked_fill_
__bool__ __int__ __float__ item tolist requires_grad_ is_floating_point is_contiguous new_zeros new_ones new_full
new_empty embedding one_hot argmax argmin sort topk eq ne lt le gt ge __eq__ __ne__ __lt__ __le__ __gt__ __ge__
isnan isfinite any all nonzero masked_select unfold movedim swapaxes triu tril diag identity data_ptr get_device
dtype device is_cuda ndim grad_fn requires_grad retain_grad __contains__ __hash__ __index__ __reversed__
""".split())


def count_parameters(model):
    """(all, trainable): every parameter, each shared tensor once."""
    seen, total, trainable = set(), 0, 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return total, trainable


def _shape_of(x):
    import torch
    if isinstance(x, torch.Tensor):
        return list(x.shape)
    if isinstance(x, (tuple, list)):
        return [_shape_of(e) for e in x]
    if isinstance(x, dict):
        return {k: _shape_of(v) for k, v in x.items()}
    return repr(type(x).__name__)


def complexity(model, example_input, *more_inputs, **kwargs):
    """Counts `model`'s forward pass on `example_input` (a tensor, or several positional inputs, or keyword
    inputs), in the mode the model is in (call model.eval() for inference), without gradients. Returns a
    Complexity. An input the model cannot take, or a model that is not a torch.nn.Module, raises SedenergyError
    with PyTorch's reason."""
    try:
        import torch
        from torch.overrides import TorchFunctionMode
    except ImportError as e:
        raise SedenergyError(f"complexity needs PyTorch: {e}") from None
    if not isinstance(model, torch.nn.Module):
        raise SedenergyError(f"complexity: expected a torch.nn.Module, got {type(model).__name__}")
    ops, uncounted = [], OrderedDict()

    class Counting(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)  # inside this call the mode is off: a composite op is counted once
            name = getattr(func, "__name__", None) or str(func)
            rule = RULES.get(name)
            if rule is not None:
                ops.append(rule(args, kwargs, out))
            elif name not in NO_ARITHMETIC and _computes(out):
                uncounted[name] = uncounted.get(name, 0) + 1
            return out

    inputs = (example_input,) + more_inputs
    try:
        with torch.no_grad(), Counting():
            model(*inputs, **kwargs)
    except SedenergyError:
        raise
    except Exception as e:  # the model's own error: a wrong shape, a missing argument
        shapes = ", ".join(str(_shape_of(i)) for i in inputs)
        raise SedenergyError(f"complexity: {type(model).__name__} cannot run on an input of shape {shapes}: "
                             f"{type(e).__name__}: {e}") from e
    params, trainable = count_parameters(model)
    return Complexity(params, trainable, ops, uncounted, [_shape_of(inputs[0] if len(inputs) == 1 else inputs)])


def _computes(out):
    """Whether an operation's result may hold computed numbers (a floating or complex tensor), rather than shapes,
    indices or flags."""
    t = _first_tensor(out)
    return t is not None and (t.is_floating_point() or t.is_complex())


# ---- the command line: python -m sedenergy complexity MODEL --input SHAPE ----

def load_model(ref):
    """A model named on the command line: FILE.py:NAME (a function returning the module, called without
    arguments, or a module object), or a file holding a whole pickled nn.Module (torch.save(model, path))."""
    import importlib.util
    import os
    import torch
    path, name = ref.rsplit(":", 1) if ":" in ref and ref.rsplit(":", 1)[0].endswith(".py") else (ref, "")
    if not os.path.isfile(path):
        raise SedenergyError(f"model {ref!r}: {path} is not a file (give FILE.py:NAME or a saved nn.Module)")
    if path.endswith(".py"):
        spec = importlib.util.spec_from_file_location("_sedenergy_user_model", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as e:
            raise SedenergyError(f"model {ref!r}: {path} failed to load: {type(e).__name__}: {e}") from e
        if not hasattr(module, name):
            raise SedenergyError(f"model {ref!r}: {path} has no {name!r}")
        obj = getattr(module, name)
        model = obj() if callable(obj) and not isinstance(obj, torch.nn.Module) else obj
    else:
        try:
            model = torch.load(path, map_location="cpu", **({"weights_only": False} if _takes_weights_only(torch) else {}))
        except Exception as e:
            raise SedenergyError(f"model {ref!r}: not a saved nn.Module ({type(e).__name__}: {e})") from e
    if isinstance(model, torch.jit.ScriptModule):
        raise SedenergyError(f"model {ref!r} is TorchScript, whose operations run outside Python and cannot be "
                             "counted one by one: give the Python model (FILE.py:NAME) instead")
    if not isinstance(model, torch.nn.Module):
        raise SedenergyError(f"model {ref!r}: got a {type(model).__name__}, not a torch.nn.Module (a state_dict "
                             "holds weights only: give FILE.py:NAME that builds the model)")
    return model


def _takes_weights_only(torch):
    import inspect
    return "weights_only" in inspect.signature(torch.load).parameters


def parse_shape(text, option="--input"):
    """'1x1x128x626' (or '1,1,128,626') -> (1, 1, 128, 626); anything else refused by the option's name."""
    parts = text.replace(",", "x").split("x")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = ()
    if not shape or any(d <= 0 or d > 1 << 31 for d in shape):
        raise SedenergyError(f"{option} {text!r}: expected positive sizes like 1x1x128x626")
    return shape


def main(argv):
    import argparse
    import json
    import torch
    ap = argparse.ArgumentParser(prog="python -m sedenergy complexity", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=(
        "examples:\n  python -m sedenergy complexity mymodel.py:build --input 1x1x128x626\n"
        "  python -m sedenergy complexity model.pt --input 1x1x128x626 --encoder enc.py:beats --encoder-input 1x160000"))
    ap.add_argument("model", help="FILE.py:NAME (a function building the model, or the model) or a saved nn.Module")
    ap.add_argument("--input", required=True, help="the example input's shape, e.g. 1x1x128x626 (10 s, hop 256)")
    ap.add_argument("--encoder", help="a pretrained encoder whose embeddings the training reads from disk: counted "
                                      "on its own input and added")
    ap.add_argument("--encoder-input", help="the encoder's input shape, e.g. 1x160000 (10 s at 16 kHz)")
    ap.add_argument("--train", action="store_true", help="count in training mode (dropout, batch statistics)")
    ap.add_argument("--json", action="store_true", help="JSON output")
    args = ap.parse_args(argv)
    if bool(args.encoder) != bool(args.encoder_input):
        raise SedenergyError("--encoder and --encoder-input go together")
    parts = [(args.model, parse_shape(args.input))]
    if args.encoder:
        parts.append((args.encoder, parse_shape(args.encoder_input, "--encoder-input")))
    total = None
    for ref, shape in parts:
        model = load_model(ref).train(args.train)
        c = complexity(model, torch.zeros(shape))
        total = c if total is None else total + c
    if args.json:
        print(json.dumps(total.to_dict(), indent=1))
    else:
        print(total.table())
        for name in CONVENTIONS[1:]:
            conv = total.convention(name)
            print(f"as {name}: {conv.macs:,.0f} MACs, {conv.flops:,.0f} FLOPs")
    return 0 if total.complete else 3
