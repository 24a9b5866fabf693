"""Spatial lowerings planned without Caffe: the layers import_caffe/handlers/{conv,resize}.py return
for conv2d_transpose and upsample2d are run by a small numpy simulation of Caffe's Deconvolution
(output cell i * stride + k - pad gets input cell i times tap k), Slice, Silence and Concat, and compared
with independent numpy references of TF:

* Conv2DTranspose: the gradient of a forward convolution from the output size to the input size, whose
  SAME padding puts total // 2 before (TF's conv2d_backprop_input), with Keras 3's output sizes.
* UpSampling2D bilinear: tf.image.resize with half-pixel centres: source coordinate
  (o + 0.5) / scale - 0.5, lower index clamped at 0, upper at size - 1 (compute_interpolation_weights).

Also: malformed attributes of these ops are refused by their check rules with a BundleError.
"""
import itertools

import numpy as np
import pytest

from shared.errors import BundleError
from shared import opspec
from import_caffe.handlers.resize import bilinear_taps
from import_caffe.layout import IMAGE, Layout
from import_caffe.plan import Names, TensorRef
from import_caffe.registry import Target, handler_for

RNG = np.random.default_rng(0)


# ----------------------------------------------------------------------------- a tiny Caffe

def _deconv(x, weight, bias, p):
    """Caffe Deconvolution on (C, H, W) with weight (C, out / group, kh, kw)."""
    c, h, w = x.shape
    group = p.get("group", 1)
    _, per_group, kh, kw = weight.shape
    sh, sw, ph, pw = p["stride_h"], p["stride_w"], p["pad_h"], p["pad_w"]
    dh, dw = p.get("dilation", [1, 1])
    full = np.zeros((per_group * group, (h - 1) * sh + (kh - 1) * dh + 1, (w - 1) * sw + (kw - 1) * dw + 1))
    cin = c // group
    for ci in range(c):
        g = ci // cin
        for i, j, a, b in itertools.product(range(h), range(w), range(kh), range(kw)):
            full[g * per_group:(g + 1) * per_group, i * sh + a * dh, j * sw + b * dw] += \
                x[ci, i, j] * weight[ci, :, a, b]
    out = full[:, ph:full.shape[1] - ph, pw:full.shape[2] - pw]
    if bias is not None:
        out = out + bias[:, None, None]
    return out


def run_layers(layers, blobs):
    for layer in layers:
        bottoms = [blobs[b] for b in layer.bottoms]
        if layer.type == "Deconvolution":
            p = layer.params["convolution_param"]
            bias = layer.blobs[1] if p["bias_term"] else None
            blobs[layer.tops[0]] = _deconv(bottoms[0], layer.blobs[0].astype(np.float64), bias, p)
        elif layer.type == "Slice":
            p = layer.params["slice_param"]
            parts = np.split(bottoms[0], p["slice_point"], axis=p["axis"] - 1)
            assert len(parts) == len(layer.tops)
            blobs.update(zip(layer.tops, parts))
        elif layer.type == "Concat":
            blobs[layer.tops[0]] = np.concatenate(bottoms, axis=layer.params["concat_param"]["axis"] - 1)
        elif layer.type == "Tile":
            p = layer.params["tile_param"]
            blobs[layer.tops[0]] = np.concatenate([bottoms[0]] * p["tiles"], axis=p["axis"] - 1)
        elif layer.type == "Power":
            blobs[layer.tops[0]] = bottoms[0]
        elif layer.type != "Silence":
            raise AssertionError("no simulation of %s" % layer.type)
    return blobs


def lower(op, attrs, arrays, hwc):
    node = {"name": "n", "op": op, "source_type": op, "inputs": ["x"], "outputs": ["y"], "attrs": attrs}
    ins = [TensorRef("x", list(hwc), Layout(IMAGE))]
    handler = handler_for(op)
    opspec.fill_defaults(node)
    opspec.check_node(node, [hwc], None, dict((r, np.shape(a)) for r, a in arrays.items()), "test")
    return handler.func(node, ins, arrays, Names(node), Target())


# ----------------------------------------------------------------------------- conv2d_transpose

def keras_transpose_size(size, kernel, stride, padding, output_padding):
    """keras.src.backend.common.backend_utils._get_output_shape_given_tf_padding."""
    if padding == "valid":
        if output_padding is None:
            output_padding = max(kernel, stride) - kernel
        return (size - 1) * stride + kernel + output_padding
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + kernel - 2 * (kernel // 2) + output_padding


def tf_transpose(x, kernel, strides, dilation, padding, out_hw):
    """TF Conv2DTranspose on (H, W, Cin), kernel (kh, kw, Cout, Cin): x_grad of the forward convolution
    y[i] = sum_k x[i * s + k * d - before] W[k] from out_hw cells to x's cells."""
    h, w, _ = x.shape
    kh, kw, cout, _ = kernel.shape
    before = []
    for size, out, k, s, d in zip((h, w), out_hw, (kh, kw), strides, dilation):
        before.append(0 if padding == "valid" else max((size - 1) * s + (k - 1) * d + 1 - out, 0) // 2)
    y = np.zeros((out_hw[0], out_hw[1], cout))
    for i, j, a, b in itertools.product(range(h), range(w), range(kh), range(kw)):
        oi, oj = i * strides[0] + a * dilation[0] - before[0], j * strides[1] + b * dilation[1] - before[1]
        if 0 <= oi < out_hw[0] and 0 <= oj < out_hw[1]:
            y[oi, oj] += kernel[a, b] @ x[i, j]
    return y, before


TRANSPOSE_CASES = [(k, s, 1, padding, op) for k in (1, 2, 3, 4, 5) for s in (1, 2, 3)
                   for padding in ("same", "valid") for op in [None] + list(range(s))] + \
                  [(k, 1, d, padding, None) for k in (2, 3) for d in (2, 3) for padding in ("same", "valid")]


@pytest.mark.parametrize("k,s,d,padding,op", TRANSPOSE_CASES,
                         ids=["k%d_s%d_d%d_%s_op%s" % case for case in TRANSPOSE_CASES])
def test_conv2d_transpose_plan_matches_tf(k, s, d, padding, op):
    """Dilation only with stride 1 (Keras refuses both); TF 2.21's CPU kernel refuses any dilated
    Conv2DTranspose, so dilation is checked here only (and by the parity check of a conversion)."""
    hwc = (3, 4, 2)
    kernel = RNG.normal(size=(k, k + 1, 3, hwc[2]))
    bias = RNG.normal(size=3)
    x = RNG.normal(size=hwc)
    out_hw = [keras_transpose_size(n, (kk - 1) * d + 1, s, padding, op) for n, kk in zip(hwc[:2], (k, k + 1))]
    want, before = tf_transpose(x, kernel, (s, s), (d, d), padding, out_hw)
    want = want + bias
    attrs = {"kernel_size": [k, k + 1], "strides": [s, s], "dilation": [d, d], "padding": padding, "offset": before,
             "output_size": out_hw, "filters": 3, "use_bias": True, "activation": None}
    lowering = lower("conv2d_transpose", attrs, {"kernel": kernel, "bias": bias}, hwc)
    blobs = run_layers(lowering.layers, {"x": x.transpose(2, 0, 1)})
    got = blobs[lowering.outputs[0].blob].transpose(1, 2, 0)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-9)


@pytest.mark.parametrize("attrs,field", [
    ({"offset": [3, 0]}, "attrs.offset"),           # starts beyond the first kernel window
    ({"output_size": [40, 9]}, "attrs.offset"),     # outgrows the full convolution by a stride or more
    ({"strides": [0, 1]}, "attrs.strides"),
    ({"offset": [-1, 0]}, "attrs.offset"),
], ids=["offset_past_window", "output_too_large", "zero_stride", "negative_offset"])
def test_conv2d_transpose_malformed_attrs_are_refused(attrs, field):
    base = {"kernel_size": [3, 3], "strides": [2, 2], "dilation": [1, 1], "offset": [1, 1], "output_size": [6, 8],
            "filters": 3, "padding": "same", "use_bias": False}
    base.update(attrs)
    with pytest.raises(BundleError) as info:
        lower("conv2d_transpose", base, {"kernel": np.zeros((3, 3, 3, 2))}, (3, 4, 2))
    assert field in str(info.value)


# ----------------------------------------------------------------------------- upsample2d

def tf_bilinear(x, size):
    """tf.image.resize bilinear with half-pixel centres on (H, W, C), by integer factors."""
    def axis_weights(n, scale):
        m = np.zeros((n * scale, n))
        for o in range(n * scale):
            src = (o + 0.5) / scale - 0.5
            low = int(np.floor(src))
            frac = src - low
            m[o, min(max(low, 0), n - 1)] += 1 - frac
            m[o, min(max(low + 1, 0), n - 1)] += frac
        return m
    mh, mw = axis_weights(x.shape[0], size[0]), axis_weights(x.shape[1], size[1])
    return np.einsum("ah,bw,hwc->abc", mh, mw, x)


@pytest.mark.parametrize("scale", [1, 2, 3, 4, 5, 8])
def test_bilinear_taps_split_one_unit_per_output_phase(scale):
    taps, pad = bilinear_taps(scale)
    assert len(taps) == 2 * scale - scale % 2 and pad == scale // 2
    for phase in range(scale):
        assert abs(taps[(phase + pad) % scale::scale].sum() - 1.0) < 1e-12


UPSAMPLE_CASES = [(h, w, sh, sw) for h in (1, 2, 3, 5) for w in (1, 2, 4)
                  for sh, sw in ((2, 2), (3, 1), (1, 4), (3, 2), (1, 1))] + [(1, 1, 65, 33), (1, 3, 40, 2)]


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("h,w,sh,sw", UPSAMPLE_CASES, ids=["%dx%d_by_%dx%d" % case for case in UPSAMPLE_CASES])
def test_upsample_plan_matches_tf(h, w, sh, sw, interpolation):
    x = RNG.normal(size=(h, w, 2))
    lowering = lower("upsample2d", {"size": [sh, sw], "interpolation": interpolation}, {}, (h, w, 2))
    got = run_layers(lowering.layers, {"x": x.transpose(2, 0, 1)})[lowering.outputs[0].blob].transpose(1, 2, 0)
    if interpolation == "nearest":
        want = np.repeat(np.repeat(x, sh, axis=0), sw, axis=1)
    else:
        want = tf_bilinear(x, (sh, sw))
    np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("op,attrs,field", [
    ("upsample2d", {"size": [0, 2], "interpolation": "nearest"}, "attrs.size"),
    ("upsample2d", {"size": [2, 1 << 17], "interpolation": "nearest"}, "attrs.size"),
    ("upsample2d", {"size": [2, 2], "interpolation": "bicubic"}, "attrs.interpolation"),
    ("crop2d", {"crops": [2, 1, 0, 0]}, "attrs.crops"),
    ("crop2d", {"crops": [0, 0, -1, 0]}, "attrs.crops"),
], ids=["upsample_zero", "upsample_huge", "upsample_bicubic", "crop_everything", "crop_negative"])
def test_resize_malformed_attrs_are_refused(op, attrs, field):
    with pytest.raises(BundleError) as info:
        lower(op, attrs, {}, (3, 4, 2))
    assert field in str(info.value)


def test_upsample_kernel_over_the_limit_is_refused():
    from import_caffe.registry import Unsupported
    with pytest.raises(Unsupported) as info:
        lower("upsample2d", {"size": [3000, 3000], "interpolation": "bilinear"}, {}, (2, 2, 8))
    assert "limit" in str(info.value)
