"""Merges: Add, Multiply, Subtract, Average, Maximum, Minimum (inputs of one shape, or broadcast along
axes of size 1 as in squeeze-and-excitation gates), Concatenate."""
from ..registry import Node, Unsupported, register


def _broadcast(view):
    """Inputs of one rank whose every dimension is the output's or 1 (numpy broadcasting)."""
    shapes = [tuple(s) for s in view.input_shapes]
    out = tuple(view.output_shape)
    if any(len(s) != len(out) or any(d not in (1, o) for d, o in zip(s, out)) for s in shapes):
        raise Unsupported("inputs of shapes %r do not broadcast to %r along axes of size 1"
                          % (shapes, out))


def _elementwise(op):
    def handler(view):
        _broadcast(view)
        return Node(op, {})
    handler.__name__ = op
    return handler


add = register("Add", ops=('add',))(_elementwise("add"))
multiply = register("Multiply", ops=('multiply',))(_elementwise("multiply"))
subtract = register("Subtract", ops=('subtract',))(_elementwise("subtract"))
average = register("Average", ops=('average',))(_elementwise("average"))
maximum = register("Maximum", ops=('maximum',))(_elementwise("maximum"))
minimum = register("Minimum", ops=('minimum',))(_elementwise("minimum"))


@register("Concatenate", ops=('concat',))
def concatenate(view):
    rank = len(view.input_shape)
    axis = int(view.config.get("axis", -1))
    if axis < 0:
        axis += rank + 1
    if not 1 <= axis <= rank:
        raise Unsupported("axis=%r" % view.config.get("axis"))
    return Node("concat", {"axis": axis})
