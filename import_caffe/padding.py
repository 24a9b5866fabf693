"""Caffe's pooling arithmetic and how TF windows map onto it (pure integer arithmetic).

Caffe pools with ceil: out = ceil((in + 2*pad - k) / stride) + 1, minus one when the layer is padded
(pad_h or pad_w non-zero: the rule then applies to both axes, even an unpadded one) and the last window
would start at or beyond in + pad. It pads symmetrically only. TF windows start at
-before + i*stride. A Caffe pad q lines its windows up with TF's when (q - before) is a multiple of
the stride; TF window i is then Caffe window i + (q - before) / stride, and surplus windows are
sliced off. MAX pooling clips windows to the image, so the pad cells never matter; AVE pooling
divides by the window clipped to [-q, in + q) and needs a per-position correction (see avg_divisors).
"""
import math

import numpy as np


class PoolAxisPlan(object):
    """How one spatial axis of a TF pooling maps to Caffe: pad, windows to drop before, TF count."""

    def __init__(self, pad, skip, count, caffe_count):
        self.pad = pad
        self.skip = skip
        self.count = count
        self.caffe_count = caffe_count


def caffe_pool_out(size, kernel, stride, pad, layer_padded=None):
    """Caffe's window count along one axis. layer_padded: whether the layer pads either axis (Caffe
    then drops a last window starting at or beyond size + pad on both axes); default: pad > 0."""
    out = int(math.ceil(float(size + 2 * pad - kernel) / stride)) + 1
    if layer_padded is None:
        layer_padded = pad > 0
    if layer_padded and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def tf_out(size, kernel, stride, before, after):
    return (size + before + after - kernel) // stride + 1


def plan_pool_axis(size, kernel, stride, before, after):
    """The PoolAxisPlan for one axis, or None when no Caffe pad lines up. Its caffe_count assumes the
    other axis is unpadded; plan_pool plans a whole 2-D pooling."""
    count = tf_out(size, kernel, stride, before, after)
    for pad in range(before, max(before, after) + 1):
        if (pad - before) % stride or (pad and pad >= kernel):
            continue
        skip = (pad - before) // stride
        caffe_count = caffe_pool_out(size, kernel, stride, pad)
        if caffe_count >= skip + count:
            return PoolAxisPlan(pad, skip, count, caffe_count)
    return None


def plan_pool(in_hw, kernel, strides, pads):
    """The [H, W] PoolAxisPlans of a pooling with TF pads [top, bottom, left, right], or None. An axis's
    Caffe window count depends on whether the other axis is padded, so it is counted for the layer."""
    plans = [plan_pool_axis(in_hw[0], kernel[0], strides[0], pads[0], pads[1]),
             plan_pool_axis(in_hw[1], kernel[1], strides[1], pads[2], pads[3])]
    if None in plans:
        return None
    layer_padded = any(plan.pad for plan in plans)
    for plan, size, k, s in zip(plans, in_hw, kernel, strides):
        plan.caffe_count = caffe_pool_out(size, k, s, plan.pad, layer_padded)
        if plan.caffe_count < plan.skip + plan.count:
            return None
    return plans


def _axis_counts(size, kernel, stride, plan, before):
    """(caffe divisor, real cell count) per kept output position along one axis."""
    caffe, real = [], []
    for i in range(plan.count):
        j = i + plan.skip
        start = j * stride - plan.pad
        end = min(start + kernel, size + plan.pad)
        caffe.append(end - start)
        tf_start = i * stride - before
        real.append(min(tf_start + kernel, size) - max(tf_start, 0))
    return np.array(caffe, dtype=np.float64), np.array(real, dtype=np.float64)


def avg_divisors(in_hw, kernel, strides, pads, plans):
    """Per-position factor (H_out, W_out) turning Caffe's AVE result into TF's, or None if all 1."""
    ch, rh = _axis_counts(in_hw[0], kernel[0], strides[0], plans[0], pads[0])
    cw, rw = _axis_counts(in_hw[1], kernel[1], strides[1], plans[1], pads[2])
    factor = np.outer(ch, cw) / np.outer(rh, rw)
    if np.all(factor == 1.0):
        return None
    return factor.astype(np.float32)


def symmetric(pads):
    """(pad_h, pad_w) if [top, bottom, left, right] is symmetric, else None."""
    top, bottom, left, right = pads
    if top == bottom and left == right:
        return top, left
    return None
