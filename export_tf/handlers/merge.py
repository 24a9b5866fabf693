"""Merges. Keras: Add, Multiply, Subtract, Average, Maximum, Minimum (inputs of one shape, or broadcast
along axes of size 1 as in squeeze-and-excitation gates), Concatenate. TF ops: AddN, ConcatV2 / Concat,
and (through export_tf/handlers/ops.py) Add, Sub, Mul, Maximum, Minimum between two data tensors."""
import numpy as np

from ..node import Unsupported, make_node
from ..registry import register, tf_op


def check_broadcast(shapes, out):
    """Inputs of one rank whose every dimension is the output's or 1 (numpy broadcasting)."""
    shapes, out = [tuple(s) for s in shapes], tuple(out)
    if any(len(s) != len(out) or any(d not in (1, o) for d, o in zip(s, out)) for s in shapes):
        raise Unsupported("inputs of shapes %r do not broadcast to %r along axes of size 1" % (shapes, out))


def _elementwise(op):
    def handler(view):
        check_broadcast(view.input_shapes, view.output_shape)
        return make_node(op, {})
    handler.__name__ = op
    return handler


add = register("Add", ops=("add",))(_elementwise("add"))
multiply = register("Multiply", ops=("multiply",))(_elementwise("multiply"))
subtract = register("Subtract", ops=("subtract",))(_elementwise("subtract"))
average = register("Average", ops=("average",))(_elementwise("average"))
maximum = register("Maximum", ops=("maximum",))(_elementwise("maximum"))
minimum = register("Minimum", ops=("minimum",))(_elementwise("minimum"))


@register("Concatenate", ops=("concat",))
def concatenate(view):
    rank = len(view.input_shape)
    axis = int(view.config.get("axis", -1))
    if axis < 0:
        axis += rank + 1
    if not 1 <= axis <= rank:
        raise Unsupported("axis=%r" % view.config.get("axis"))
    return make_node("concat", {"axis": axis})


TF_MERGES = {"Add": "add", "AddV2": "add", "Sub": "subtract", "Mul": "multiply", "Maximum": "maximum",
             "Minimum": "minimum"}


def tf_merge(view):
    """A TF op of TF_MERGES between two data tensors: the Keras merge."""
    ins = view.inputs
    check_broadcast([view.shape(t) for t in ins], view.output_shape)
    return make_node(TF_MERGES[view.type], {}, inputs=list(ins))


@tf_op("AddN")
def tf_add_n(view):
    ins = view.inputs
    if not all(view.graph.is_data(t) for t in ins):
        raise Unsupported("adding constants (fold them into a bias)")
    if len(set(view.shape(t) for t in ins)) != 1:
        raise Unsupported("inputs of different shapes")
    if len(ins) == 1:       # a sum of one tensor is that tensor (the add op takes two or more)
        return make_node("identity", {}, inputs=list(ins))
    return make_node("add", {}, inputs=list(ins))


@tf_op("ConcatV2", "Concat")
def tf_concat(view):
    ins = view.inputs
    axis_index = len(ins) - 1 if view.type == "ConcatV2" else 0
    parts = [t for i, t in enumerate(ins) if i != axis_index]
    if not all(view.graph.is_data(t) for t in parts):
        raise Unsupported("concatenating a constant with the model's data")
    rank = len(view.output_shape) + 1
    axis = int(np.asarray(view.static(axis_index)).reshape(-1)[0]) % rank
    if axis == 0:
        raise Unsupported("concatenation along the batch axis")
    return make_node("concat", {"axis": axis}, inputs=parts)
