"""TensorFlow's padding rules, resolved on the TF side so the bundle carries explicit pads."""


def same_pads(size, kernel, stride, dilation=1):
    """TF 'SAME' padding along one axis: (before, after), the extra cell after (bottom/right)."""
    k_eff = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + k_eff - size, 0)
    return total // 2, total - total // 2


def resolve_pads(padding, in_hw, kernel, strides, dilation=(1, 1)):
    """Explicit [top, bottom, left, right] for Keras padding 'valid' or 'same'."""
    if padding == "valid":
        return [0, 0, 0, 0]
    if padding != "same":
        raise ValueError("unknown padding %r" % padding)
    top, bottom = same_pads(in_hw[0], kernel[0], strides[0], dilation[0])
    left, right = same_pads(in_hw[1], kernel[1], strides[1], dilation[1])
    return [top, bottom, left, right]
