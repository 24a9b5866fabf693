"""Shape changes: Flatten, Reshape, Permute, ZeroPadding2D."""
from ..registry import Node, Unsupported, register
from .common import channels_last, spatial_input


@register("Flatten", ops=('flatten',))
def flatten(view):
    channels_last(view)
    return Node("flatten", {})


@register("Reshape", ops=('reshape',))
def reshape(view):
    return Node("reshape", {"target_shape": [int(d) for d in view.output_shape]})


@register("Permute", ops=("permute",))
def permute(view):
    dims = [int(d) for d in view.config["dims"]]
    if sorted(dims) != list(range(1, len(view.input_shape) + 1)):
        raise Unsupported("dims=%r is not a permutation of the axes 1..%d" % (dims, len(view.input_shape)))
    return Node("permute", {"dims": dims})


@register("ZeroPadding2D", ops=('pad2d',))
def zero_padding2d(view):
    channels_last(view)
    spatial_input(view)
    pad = view.config.get("padding", 1)
    if isinstance(pad, int):
        pads = [pad, pad, pad, pad]
    else:
        (top, bottom), (left, right) = [(p, p) if isinstance(p, int) else tuple(p) for p in pad]
        pads = [top, bottom, left, right]
    if any(p < 0 for p in pads):
        raise Unsupported("negative padding %r" % (pads,))
    return Node("pad2d", {"pads": [int(p) for p in pads]})
