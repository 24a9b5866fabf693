"""Activations: the `activation` op, `prelu`, and the fused activation of conv, dense and 1-D conv
nodes. An activation is {"function": name, parameters...}; each function's parameters are below, with
Keras' defaults. hard_sigmoid has no default slope: Keras 2 (0.2, 0.5) and Keras 3 (1/6, 0.5) differ,
so the exporter always writes the one the model's own framework computes."""
from . import Array, declare
from .fields import REQUIRED, Axes, Bool, Enum, Nested, Number

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

FUNCTIONS = {
    "relu": {"negative_slope": Number(default=0.0), "max_value": Number(nullable=True, default=None),
             "threshold": Number(default=0.0)},
    "relu6": {},
    "clip": {"min": Number(), "max": Number()},
    "sigmoid": {},
    "hard_sigmoid": {"slope": Number(default=REQUIRED), "offset": Number(default=REQUIRED)},
    "tanh": {},
    "softmax": {"axis": Axes(default=-1, doc="counted with the batch axis; -1 is the channels")},
    "elu": {"alpha": Number(default=1.0)},
    "selu": {"alpha": Number(default=SELU_ALPHA), "scale": Number(default=SELU_SCALE)},
    "celu": {"alpha": Number(default=1.0)},
    "softplus": {},
    "softsign": {},
    "silu": {},
    "hard_silu": {"slope": Number(default=1.0 / 6.0), "offset": Number(default=0.5)},
    "gelu": {"approximate": Bool(default=False, doc="the tanh form; false is the exact erf form")},
    "mish": {},
    "log_sigmoid": {},
    "tanh_shrink": {},
    "hard_shrink": {"threshold": Number(default=0.5)},
    "soft_shrink": {"threshold": Number(default=0.5)},
    "sparse_plus": {},
    "squareplus": {"b": Number(default=4.0)},
    "exponential": {},
}

# A conv/dense node's fused activation: an activation object, or null for none (Keras' 'linear').
ACTIVATION = Nested("function", FUNCTIONS, "activation object", nullable=True, default=None,
                    doc="the fused activation, null for none")


def _prelu(ctx):
    shape = ctx.ins[0]
    alpha = ctx.array("alpha", [None] * len(shape))
    if any(a not in (1, s) for a, s in zip(alpha, shape)):
        ctx.fail("arrays.alpha", "shape %r does not broadcast to the input's %r" % (alpha, shape))
    ctx.output(shape)


def _same_shape(ctx):
    ctx.output(ctx.ins[0])


declare("activation", "activation", attrs={"function": Enum(*sorted(FUNCTIONS), label="a function below")}, variant=("function", FUNCTIONS),
        rule=_same_shape, doc="an elementwise function (softmax: over `axis`)")
declare("prelu", "activation", arrays={"alpha": Array(None, doc="slopes, of the input's rank")}, rule=_prelu,
        doc="relu(x) - alpha * relu(-x), alpha broadcast to the input")
