"""Arithmetic. Keras: operators on symbolic tensors (keras.ops in a functional model): `x + 3.0`,
`x * (1 / 6)`, `a - b`, as MobileNetV3's hard_sigmoid writes them. TF ops: Add, AddV2, BiasAdd, Sub,
Mul, RealDiv, Neg, Maximum, Minimum.

With a constant operand (a scalar or one value per channel) they are the rescale op, x * scale + offset
(a TF Mul followed by an add of a constant is one rescale); between two tensors, the merge ops. TF's
Maximum / Minimum with a scalar constant are relus. A Mul or Neg that starts tf.nn.gelu's arithmetic is
that gelu (activation.py's graph_gelu)."""
import numpy as np

from ..layerview import TENSOR
from ..node import Unsupported, make_node
from ..registry import register, tf_op
from .activation import graph_gelu, relu_attrs
from .merge import check_broadcast, tf_merge
from ..graphdef.view import channel_vector

_MERGE = {"Add": "add", "Subtract": "subtract", "Multiply": "multiply"}


def affine(kind, const, tensor_first):
    """`x kind c` (or `c kind x`) as (scale, offset) vectors: kind is add, subtract, multiply or divide,
    const a vector of one value or one per channel."""
    const = np.asarray(const)
    ones, zeros = np.ones_like(const), np.zeros_like(const)
    if kind == "add":
        return ones, const
    if kind == "subtract":
        return (ones, -const) if tensor_first else (-ones, const)
    if kind == "multiply":
        return const, zeros
    if not tensor_first:
        raise Unsupported("a constant divided by a tensor")
    if np.any(const == 0):
        raise Unsupported("division by zero")
    return ones / const, zeros          # x * (1 / c) is x / c to within one rounding


def _constant(view, value):
    """A constant operand as one value, or one value per channel (broadcast along the last axis)."""
    arr = np.asarray(value, dtype=np.float64)
    channels = view.output_shape[-1]
    if arr.ndim > len(view.output_shape) + 1 or any(d != 1 for d in arr.shape[:-1]) or \
            (arr.ndim and arr.shape[-1] not in (1, channels)):
        raise Unsupported("a constant of shape %r (only a scalar or one value per channel)" % (arr.shape,))
    return arr.reshape(-1)


@register("ops.Add", "ops.Subtract", "ops.Multiply", "ops.TrueDivide", "ops.Divide",
          ops=("rescale", "add", "subtract", "multiply"))
def arithmetic(view):
    kind = view.class_name.split(".", 1)[1]
    operands = view.operands
    if len(operands) != 2:
        raise Unsupported("%d operands" % len(operands))
    tensors = [o is TENSOR for o in operands]
    if all(tensors):
        if kind not in _MERGE:
            raise Unsupported("division of one tensor by another (Caffe has no elementwise division)")
        check_broadcast(view.input_shapes, view.output_shape)
        return make_node(_MERGE[kind], {})
    if not any(tensors):
        raise Unsupported("no tensor operand")
    const = _constant(view, operands[1] if tensors[0] else operands[0])
    scale, offset = affine(_MERGE.get(kind, "divide"), const, tensors[0])
    return make_node("rescale", {"scale": [float(v) for v in scale], "offset": [float(v) for v in offset]})


def _split(view):
    """(data tensor, whether it is the first input, static value) for an op between data and a constant,
    else None."""
    ins = view.inputs
    if len(ins) != 2:
        return None
    data = [i for i, t in enumerate(ins) if view.graph.is_data(t)]
    if len(data) != 1:
        return None
    index = data[0]
    return ins[index], index == 0, np.asarray(view.values[ins[1 - index]])


def _vector(view, tensor, value):
    shape = view.shape(tensor)
    vec = channel_vector(value, shape[-1], len(shape) + 1)
    if vec is None:
        raise Unsupported("a constant of shape %r: only scalars and per-channel vectors (broadcasting along "
                          "the last axis of %r) are supported" % (value.shape, shape))
    if view.shape(view.output) != shape:
        raise Unsupported("the constant broadcasts the tensor from %r to %r" % (shape, view.shape(view.output)))
    return vec


def _rescale(scale, offset, src, output=None, absorbed=()):
    def short(v):
        v = np.asarray(v, dtype=np.float32)
        return [float(v[0])] if np.all(v == v[0]) else [float(x) for x in v]
    return make_node("rescale", {"scale": short(scale), "offset": short(offset)}, inputs=[src], output=output,
                     absorbed=absorbed)


_KINDS = {"Add": "add", "AddV2": "add", "BiasAdd": "add", "Sub": "subtract", "Mul": "multiply",
          "RealDiv": "divide"}


@tf_op("Add", "AddV2", "BiasAdd", "Sub", "Mul", "RealDiv")
def tf_arithmetic(view):
    if view.type == "BiasAdd" and view.attr("data_format", "NHWC") not in ("NHWC", "", None):
        raise Unsupported("data_format=%s (only NHWC graphs are supported)" % view.attr("data_format"))
    split = _split(view)
    if split is None:
        if view.type == "BiasAdd":
            raise Unsupported("a bias that depends on the model's inputs")
        if view.type == "RealDiv":
            raise Unsupported("dividing by a tensor that depends on the model's inputs")
        return tf_merge(view)
    src, first, value = split
    gelu = graph_gelu(view, src) if view.type == "Mul" else None
    if gelu is not None:
        return gelu
    kind = _KINDS[view.type]
    if kind == "divide":
        value = np.asarray(value, dtype=np.float32)
    scale, offset = affine(kind, _vector(view, src, value), first)
    fused = view.absorb_channel_add(view.output, len(scale)) if kind in ("multiply", "divide") else None
    if fused is None:
        return _rescale(scale, offset, src)
    bias, out, consumer = fused
    return _rescale(scale, bias, src, output=out, absorbed=[consumer])


@tf_op("Neg")
def tf_neg(view):
    return graph_gelu(view, view.data_input(0)) or _rescale([-1.0], [0.0], view.data_input(0))


@tf_op("Maximum", "Minimum")
def tf_max_min(view):
    split = _split(view)
    if split is None:
        return tf_merge(view)
    src, _, value = split
    value = np.asarray(value, dtype=np.float32)
    if value.size != 1 or view.shape(view.output) != view.shape(src):
        raise Unsupported("%s with a constant of shape %r (only a scalar constant)" % (view.type, value.shape))
    c = float(value.reshape(-1)[0])
    if view.type == "Maximum":
        if c != 0.0:
            raise Unsupported("maximum with %r (only 0, which is a ReLU)" % c)
        return make_node("activation", relu_attrs(), inputs=[src])
    # min(x, c): a ReLU of slope 1 passes x unchanged, its max_value clips at c
    return make_node("activation", relu_attrs(negative_slope=1.0, max_value=c), inputs=[src])
