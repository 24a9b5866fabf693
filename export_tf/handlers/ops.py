"""Arithmetic written with operators on symbolic tensors (keras.ops in a functional model): `x + 3.0`,
`x * (1 / 6)`, `a - b`, as MobileNetV3's hard_sigmoid writes them. With a constant operand (a scalar
or one value per channel) they are the rescale op; between two tensors, the merge ops."""
import numpy as np

from ..registry import TENSOR, Node, Unsupported, register
from .merge import _broadcast

_MERGE = {"Add": "add", "Subtract": "subtract", "Multiply": "multiply"}


def _constant(view, value):
    """A constant operand as one value, or one value per channel (broadcast along the last axis)."""
    arr = np.asarray(value, dtype=np.float64)
    channels = view.output_shape[-1]
    if arr.ndim > len(view.output_shape) + 1 or any(d != 1 for d in arr.shape[:-1]) or \
            (arr.ndim and arr.shape[-1] not in (1, channels)):
        raise Unsupported("a constant of shape %r (only a scalar or one value per channel)" % (arr.shape,))
    flat = arr.reshape(-1)
    return [float(v) for v in flat]


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
        _broadcast(view)
        return Node(_MERGE[kind], {})
    if not any(tensors):
        raise Unsupported("no tensor operand")
    const = _constant(view, operands[1] if tensors[0] else operands[0])
    zeros, ones = [0.0] * len(const), [1.0] * len(const)
    if kind == "Add":
        scale, offset = ones, const
    elif kind == "Subtract":
        scale, offset = (ones, [-c for c in const]) if tensors[0] else ([-1.0] * len(const), const)
    elif kind == "Multiply":
        scale, offset = const, zeros
    elif tensors[0]:
        if any(c == 0.0 for c in const):
            raise Unsupported("division by zero")
        inverse = [1.0 / c for c in const]     # x * (1 / c) is x / c to within one rounding
        scale, offset = inverse, zeros
    else:
        raise Unsupported("a constant divided by a tensor")
    return Node("rescale", {"scale": scale, "offset": offset})

