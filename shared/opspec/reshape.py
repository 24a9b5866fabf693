"""Reshaping: flatten, reshape, permute, pad2d (zero padding of an image's rows and columns)."""
from . import declare
from .fields import MAX_INT, MAX_RANK, Ints
from .fields import element_count as _count


def _flatten(ctx):
    ctx.output([_count(ctx.ins[0])])


def _reshape(ctx):
    target = ctx.attrs["target_shape"]
    if _count(target) != _count(ctx.ins[0]):
        ctx.fail("attrs.target_shape", "%r holds %d values, the input %r holds %d"
                 % (target, _count(target), ctx.ins[0], _count(ctx.ins[0])))
    ctx.output(target)


def _permute(ctx):
    shape = ctx.ins[0]
    dims = ctx.attrs["dims"]
    if sorted(dims) != list(range(1, len(shape) + 1)):
        ctx.fail("attrs.dims", "expected a permutation of 1..%d, found %r" % (len(shape), dims))
    ctx.output([shape[d - 1] for d in dims])


def _pad2d(ctx):
    h, w, c = ctx.rank(0, 3)
    top, bottom, left, right = ctx.attrs["pads"]
    ctx.output([h + top + bottom, w + left + right, c])


declare("flatten", "reshape", rule=_flatten, doc="(..., C) -> (all values,) in TF's order")
declare("reshape", "reshape", attrs={"target_shape": Ints(None, 1, MAX_INT, doc="the output shape without the batch")},
        rule=_reshape, doc="the same values in TF's (row-major) order")
declare("permute", "reshape", attrs={"dims": Ints(None, 1, MAX_RANK, doc="Keras' Permute dims, counted from 1")},
        rule=_permute, doc="a transpose of the non-batch axes")
declare("pad2d", "reshape", attrs={"pads": Ints(4, 0, doc="top, bottom, left, right")}, rule=_pad2d,
        doc="zero padding of rows and columns")
