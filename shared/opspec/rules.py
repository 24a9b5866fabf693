"""Shape rules several families share: sliding windows and their output sizes, fused activations."""
from .activation import ACTIVATION
from .fields import Bool, Enum, Ints

# The attributes every sliding window has, for `dims` spatial axes (2: images, 1: sequences).


def window_attrs(dims, dilated, paddings=("valid", "same")):
    attrs = {
        "kernel_size": Ints(dims, 1, doc="window size per spatial axis"),
        "strides": Ints(dims, 1, doc="step per spatial axis"),
        "padding": Enum(*paddings, doc="TF's padding mode (pads holds what it resolved to)"),
        "pads": Ints(2 * dims, 0, doc="cells of zero padding before and after each spatial axis"),
    }
    if dilated:
        attrs["dilation"] = Ints(dims, 1, default=[1] * dims, doc="dilation per spatial axis")
    return attrs


def conv_attrs(dims):
    attrs = window_attrs(dims, dilated=True, paddings=("valid", "same", "causal") if dims == 1 else ("valid", "same"))
    attrs["use_bias"] = Bool(default=True, doc="whether the node carries a bias array")
    attrs["activation"] = ACTIVATION
    return attrs


def has_bias(attrs):
    return attrs["use_bias"]


def windows(ctx, spatial):
    """Every window fits the padded input and no pad covers a whole window (TF's SAME padding never
    does). spatial: the input's spatial sizes. Returns the output's spatial sizes."""
    attrs = ctx.attrs
    dims = len(spatial)
    kernel, strides, pads = attrs["kernel_size"], attrs["strides"], attrs["pads"]
    dilation = attrs.get("dilation", [1] * dims)
    out = []
    for axis in range(dims):
        k_eff = (kernel[axis] - 1) * dilation[axis] + 1
        before, after = pads[2 * axis], pads[2 * axis + 1]
        name = "HW"[axis] if dims == 2 else "length"
        if max(before, after) >= k_eff:
            ctx.fail("attrs.pads", "%r pad %s by a whole window of %d or more (TF's SAME padding never does)"
                     % (pads, name, k_eff))
        if k_eff > spatial[axis] + before + after:
            ctx.fail("attrs.kernel_size", "a window of %d does not fit the input's %s of %d padded by %d + %d"
                     % (k_eff, name, spatial[axis], before, after))
        out.append((spatial[axis] + before + after - k_eff) // strides[axis] + 1)
    return out

