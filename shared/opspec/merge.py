"""Merges: add, subtract, multiply, average, maximum, minimum (inputs of one rank, broadcast along axes
of size 1 as numpy does) and concat (along one axis; every other axis equal)."""
from . import declare
from .fields import MAX_RANK, Int


def _broadcast(ctx):
    ranks = set(len(s) for s in ctx.ins)
    if len(ranks) != 1:
        ctx.fail("inputs", "inputs of shapes %r have different ranks" % (ctx.ins,))
    out = [max(dims) for dims in zip(*ctx.ins)]
    for shape in ctx.ins:
        if any(d not in (1, o) for d, o in zip(shape, out)):
            ctx.fail("inputs", "inputs of shapes %r do not broadcast along axes of size 1" % (ctx.ins,))
    ctx.output(out)


def _concat(ctx):
    axis = ctx.attrs["axis"]
    rank = len(ctx.ins[0])
    if any(len(s) != rank for s in ctx.ins):
        ctx.fail("inputs", "inputs of shapes %r have different ranks" % (ctx.ins,))
    if axis > rank:
        ctx.fail("attrs.axis", "axis %d of inputs of rank %d (counted with the batch axis)" % (axis, rank + 1))
    others = set(s[:axis - 1] + s[axis:] for s in ctx.ins)
    if len(others) != 1:
        ctx.fail("inputs", "inputs of shapes %r differ off axis %d" % (ctx.ins, axis))
    out = list(ctx.ins[0])
    out[axis - 1] = sum(s[axis - 1] for s in ctx.ins)
    ctx.output(out)


for _op, _doc in (("add", "a + b + ..."), ("multiply", "a * b * ..."), ("average", "(a + b + ...) / n"),
                  ("maximum", "max(a, b, ...)"), ("minimum", "min(a, b, ...)")):
    declare(_op, "merge", inputs=(2, None), rule=_broadcast, doc=_doc + ", broadcast along axes of size 1")
declare("subtract", "merge", inputs=2, rule=_broadcast, doc="a - b, broadcast along axes of size 1")
declare("concat", "merge", inputs=(1, None), attrs={"axis": Int(1, MAX_RANK, doc="counted with the batch axis")},
        rule=_concat, doc="concatenation along `axis`")
