"""Merges: Add, Concatenate."""
from ..registry import Node, Unsupported, register


@register("Add", ops=('add',))
def add(view):
    if len(set(tuple(s) for s in view.input_shapes)) != 1:
        raise Unsupported("inputs of different shapes %r (broadcasting)" % (view.input_shapes,))
    return Node("add", {})


@register("Concatenate", ops=('concat',))
def concatenate(view):
    rank = len(view.input_shape)
    axis = int(view.config.get("axis", -1))
    if axis < 0:
        axis += rank + 1
    if not 1 <= axis <= rank:
        raise Unsupported("axis=%r" % view.config.get("axis"))
    return Node("concat", {"axis": axis})
