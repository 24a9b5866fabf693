"""import_caffe.layout: every TF <-> Caffe permutation checked against an independent computation.

Convolutions are computed directly in numpy twice, once the TF way (NHWC input, HWIO kernel) and once
the Caffe way (NCHW input, OIHW kernel as the layout module prepares it), and must agree.
"""
import numpy as np
import pytest

from import_caffe import layout
from import_caffe.layout import FLAT_CHW, IMAGE, SEQUENCE, VECTOR, Layout

BATCH = 2


def rng_for(seed):
    return np.random.RandomState(seed)


def randn(rng, *shape):
    return rng.standard_normal(shape).astype(np.float64)


# ----------------------------------------------------------------------------- reference computations

def tf_conv(x_nhwc, kernel_hwio, stride, groups=1):
    """VALID 2-D convolution the TF way: out[n, i, j, o] = sum over the window and the group's channels."""
    n, h, w, cin = x_nhwc.shape
    kh, kw, cin_g, cout = kernel_hwio.shape
    assert cin_g * groups == cin
    cout_g = cout // groups
    oh, ow = (h - kh) // stride[0] + 1, (w - kw) // stride[1] + 1
    out = np.zeros((n, oh, ow, cout))
    for i in range(oh):
        for j in range(ow):
            patch = x_nhwc[:, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw, :]
            for o in range(cout):
                g = o // cout_g
                chans = patch[:, :, :, g * cin_g:(g + 1) * cin_g]
                out[:, i, j, o] = np.einsum("nabc,abc->n", chans, kernel_hwio[:, :, :, o])
    return out


def tf_depthwise(x_nhwc, kernel_hwcm, stride):
    """DepthwiseConv2D the TF way: output channel c * mult + m is input channel c times kernel[..., c, m]."""
    n, h, w, cin = x_nhwc.shape
    kh, kw, _, mult = kernel_hwcm.shape
    oh, ow = (h - kh) // stride[0] + 1, (w - kw) // stride[1] + 1
    out = np.zeros((n, oh, ow, cin * mult))
    for i in range(oh):
        for j in range(ow):
            patch = x_nhwc[:, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw, :]
            for c in range(cin):
                for m in range(mult):
                    out[:, i, j, c * mult + m] = np.einsum("nab,ab->n", patch[:, :, :, c], kernel_hwcm[:, :, c, m])
    return out


def caffe_conv(x_nchw, weight_oihw, stride, group=1):
    """Caffe's Convolution: output channel o is in group o // (out / group) and reads that group's
    input channels with weight[o] of shape (in / group, kh, kw)."""
    n, cin, h, w = x_nchw.shape
    cout, cin_g, kh, kw = weight_oihw.shape
    assert cin_g * group == cin
    cout_g = cout // group
    oh, ow = (h - kh) // stride[0] + 1, (w - kw) // stride[1] + 1
    out = np.zeros((n, cout, oh, ow))
    for o in range(cout):
        g = o // cout_g
        chans = x_nchw[:, g * cin_g:(g + 1) * cin_g, :, :]
        for i in range(oh):
            for j in range(ow):
                patch = chans[:, :, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw]
                out[:, o, i, j] = np.einsum("ncab,cab->n", patch, weight_oihw[o])
    return out


def to_nchw(x_nhwc):
    """NHWC -> NCHW written with explicit indices, independent of layout.nhwc_to_nchw."""
    n, h, w, c = x_nhwc.shape
    out = np.empty((n, c, h, w), dtype=x_nhwc.dtype)
    for ci in range(c):
        out[:, ci, :, :] = x_nhwc[:, :, :, ci]
    return out


# ----------------------------------------------------------------------------- convolution kernels

CONV_CASES = [
    pytest.param((5, 6, 3), (3, 2), 4, (1, 1), 1, id="kernel3x2-in3-out4"),
    pytest.param((7, 5, 2), (1, 3), 3, (2, 1), 1, id="kernel1x3-stride2x1"),
    pytest.param((4, 4, 1), (2, 2), 5, (2, 2), 1, id="single-input-channel"),
    pytest.param((6, 5, 4), (3, 3), 6, (1, 2), 2, id="groups2"),
    pytest.param((5, 5, 6), (2, 3), 3, (1, 1), 3, id="groups3-one-output-per-group"),
]


@pytest.mark.parametrize("hwc, kernel_hw, cout, stride, groups", CONV_CASES)
def test_conv_kernel_gives_the_same_convolution_in_caffe_layout(hwc, kernel_hw, cout, stride, groups):
    rng = rng_for(1)
    x = randn(rng, BATCH, *hwc)
    kernel = randn(rng, kernel_hw[0], kernel_hw[1], hwc[2] // groups, cout)
    weight = layout.conv_kernel(kernel)
    assert weight.shape == (cout, hwc[2] // groups, kernel_hw[0], kernel_hw[1])
    assert weight.flags["C_CONTIGUOUS"]
    expected = tf_conv(x, kernel, stride, groups)
    got = caffe_conv(to_nchw(x), weight, stride, groups)
    np.testing.assert_allclose(got, to_nchw(expected), rtol=1e-12, atol=1e-12)


DEPTHWISE_CASES = [
    pytest.param((5, 6, 3), (3, 2), 1, (1, 1), id="kernel3x2-mult1"),
    pytest.param((6, 5, 2), (2, 3), 3, (1, 2), id="kernel2x3-mult3-stride1x2"),
    pytest.param((4, 4, 1), (3, 3), 4, (1, 1), id="one-channel-mult4"),
]


@pytest.mark.parametrize("hwc, kernel_hw, mult, stride", DEPTHWISE_CASES)
def test_depthwise_kernel_gives_the_same_convolution_as_a_grouped_caffe_convolution(hwc, kernel_hw, mult, stride):
    rng = rng_for(2)
    x = randn(rng, BATCH, *hwc)
    kernel = randn(rng, kernel_hw[0], kernel_hw[1], hwc[2], mult)
    weight = layout.depthwise_kernel(kernel)
    assert weight.shape == (hwc[2] * mult, 1, kernel_hw[0], kernel_hw[1])
    expected = tf_depthwise(x, kernel, stride)
    got = caffe_conv(to_nchw(x), weight, stride, group=hwc[2])
    np.testing.assert_allclose(got, to_nchw(expected), rtol=1e-12, atol=1e-12)


def test_depthwise_output_channel_c_times_mult_plus_m_reads_input_channel_c():
    cin, mult = 3, 2
    kernel = np.zeros((2, 2, cin, mult))
    for c in range(cin):
        for m in range(mult):
            kernel[:, :, c, m] = 10 * c + m + np.arange(4).reshape(2, 2) / 10.0
    expected = np.zeros((cin * mult, 1, 2, 2))
    for c in range(cin):
        for m in range(mult):
            expected[c * mult + m, 0] = kernel[:, :, c, m]
    np.testing.assert_array_equal(layout.depthwise_kernel(kernel), expected)


# ----------------------------------------------------------------------------- dense kernels

@pytest.mark.parametrize("cin, units", [pytest.param(5, 3, id="5-to-3"), pytest.param(1, 4, id="1-to-4"),
                                        pytest.param(6, 1, id="6-to-1")])
def test_dense_kernel_is_the_inner_product_weight(cin, units):
    rng = rng_for(3)
    x = randn(rng, BATCH, cin)
    kernel = randn(rng, cin, units)
    weight = layout.dense_kernel(kernel)
    assert weight.shape == (units, cin)
    np.testing.assert_allclose(x.dot(weight.T), x.dot(kernel), rtol=1e-12)


@pytest.mark.parametrize("hwc, units", [
    pytest.param((2, 3, 4), 5, id="2x3x4-to-5"),
    pytest.param((3, 1, 2), 2, id="3x1x2-to-2"),
    pytest.param((1, 4, 3), 1, id="1x4x3-to-1"),
    pytest.param((4, 4, 1), 3, id="one-channel"),
])
def test_dense_kernel_after_flatten_reads_the_chw_flattened_blob(hwc, units):
    rng = rng_for(4)
    h, w, c = hwc
    x_hwc = randn(rng, BATCH, h, w, c)
    kernel = randn(rng, h * w * c, units)
    weight = layout.dense_kernel_after_flatten(kernel, hwc)
    assert weight.shape == (units, c * h * w)
    tf = x_hwc.reshape(BATCH, -1).dot(kernel)
    x_chw = to_nchw(x_hwc).reshape(BATCH, -1)
    np.testing.assert_allclose(x_chw.dot(weight.T), tf, rtol=1e-12, atol=1e-12)


def test_dense_kernel_as_conv1x1_applies_the_dense_layer_at_every_pixel():
    rng = rng_for(5)
    x = randn(rng, BATCH, 3, 4, 5)
    kernel = randn(rng, 5, 6)
    weight = layout.dense_kernel_as_conv1x1(kernel)
    assert weight.shape == (6, 5, 1, 1)
    tf = x.dot(kernel)  # Keras Dense on an image acts on the last axis
    got = caffe_conv(to_nchw(x), weight, (1, 1))
    np.testing.assert_allclose(got, to_nchw(tf), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("values, channels, expected", [
    pytest.param(2.5, 3, [2.5, 2.5, 2.5], id="scalar-broadcast"),
    pytest.param([1.5], 2, [1.5, 1.5], id="one-element-list-broadcast"),
    pytest.param([1, 2, 3], 3, [1, 2, 3], id="per-channel"),
    pytest.param(np.array([[4.0], [5.0]]), 2, [4, 5], id="column-flattened"),
])
def test_channel_vector(values, channels, expected):
    got = layout.channel_vector(values, channels)
    assert got.dtype == np.float32
    assert got.shape == (channels,)
    np.testing.assert_array_equal(got, np.array(expected, dtype=np.float32))


# ----------------------------------------------------------------------------- activations

HWC_SHAPES = [
    pytest.param((2, 3, 4), id="2x3x4"),
    pytest.param((1, 1, 5), id="1x1x5"),
    pytest.param((3, 2, 1), id="3x2x1"),
    pytest.param((4, 1, 3), id="4x1x3"),
]


@pytest.mark.parametrize("hwc", HWC_SHAPES)
def test_hwc_to_chw_order_matches_a_transpose(hwc):
    rng = rng_for(6)
    x = randn(rng, BATCH, *hwc)
    order = layout.hwc_to_chw_order(*hwc)
    np.testing.assert_array_equal(x.reshape(BATCH, -1)[:, order], to_nchw(x).reshape(BATCH, -1))


@pytest.mark.parametrize("hwc", HWC_SHAPES)
def test_chw_to_hwc_order_is_the_inverse_permutation(hwc):
    forward = layout.hwc_to_chw_order(*hwc)
    backward = layout.chw_to_hwc_order(*hwc)
    identity = np.arange(int(np.prod(hwc)))
    assert sorted(forward.tolist()) == identity.tolist()
    np.testing.assert_array_equal(forward[backward], identity)
    np.testing.assert_array_equal(backward[forward], identity)


def test_nhwc_nchw_helpers_transpose_and_are_contiguous():
    x = randn(rng_for(7), BATCH, 2, 3, 4)
    nchw = layout.nhwc_to_nchw(x)
    np.testing.assert_array_equal(nchw, to_nchw(x))
    assert nchw.flags["C_CONTIGUOUS"]
    back = layout.nchw_to_nhwc(nchw)
    np.testing.assert_array_equal(back, x)
    assert back.flags["C_CONTIGUOUS"]


ACTIVATION_CASES = [
    pytest.param((3, 4, 2), Layout(IMAGE), (2, 3, 4), id="image"),
    pytest.param((1, 1, 6), Layout(IMAGE), (6, 1, 1), id="image-1x1"),
    pytest.param((7,), Layout(VECTOR), (7,), id="vector"),
    pytest.param((24,), Layout(FLAT_CHW, (2, 3, 4)), (24,), id="flat-chw-2x3x4"),
    pytest.param((6,), Layout(FLAT_CHW, (3, 1, 2)), (6,), id="flat-chw-3x1x2"),
]


@pytest.mark.parametrize("tf_shape, lay, caffe_shape", ACTIVATION_CASES)
def test_caffe_shape(tf_shape, lay, caffe_shape):
    assert layout.caffe_shape(list(tf_shape), lay) == list(caffe_shape)


@pytest.mark.parametrize("tf_shape, lay, caffe_shape", ACTIVATION_CASES)
def test_activation_to_caffe_places_values_where_caffe_holds_them(tf_shape, lay, caffe_shape):
    rng = rng_for(8)
    if lay.kind == FLAT_CHW:
        image = randn(rng, BATCH, *lay.hwc)
        x = image.reshape(BATCH, -1)                 # TF flattens in HWC order
        expected = to_nchw(image).reshape(BATCH, -1)  # Caffe flattens in CHW order
    elif lay.kind == IMAGE:
        x = randn(rng, BATCH, *tf_shape)
        expected = to_nchw(x)
    else:
        x = randn(rng, BATCH, *tf_shape)
        expected = x
    got = layout.activation_to_caffe(x, lay)
    assert got.shape == (BATCH,) + caffe_shape
    assert got.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("tf_shape, lay, caffe_shape", ACTIVATION_CASES)
def test_activation_to_tf_inverts_activation_to_caffe(tf_shape, lay, caffe_shape):
    x = randn(rng_for(9), BATCH, *tf_shape)
    caffe = layout.activation_to_caffe(x, lay)
    back = layout.activation_to_tf(caffe, lay, list(tf_shape))
    assert back.shape == x.shape
    np.testing.assert_array_equal(back, x)


@pytest.mark.parametrize("tf_shape, lay, caffe_shape", ACTIVATION_CASES)
def test_activation_to_caffe_inverts_activation_to_tf(tf_shape, lay, caffe_shape):
    blob = randn(rng_for(10), BATCH, *caffe_shape)
    tf = layout.activation_to_tf(blob, lay, list(tf_shape))
    assert tf.shape == (BATCH,) + tuple(tf_shape)
    np.testing.assert_array_equal(layout.activation_to_caffe(tf, lay), blob)


def test_activation_to_tf_accepts_a_blob_flattened_by_caffe():
    x = randn(rng_for(11), BATCH, 2, 3, 4)
    flat_blob = to_nchw(x).reshape(BATCH, -1)
    np.testing.assert_array_equal(layout.activation_to_tf(flat_blob, Layout(IMAGE), [2, 3, 4]), x)


@pytest.mark.parametrize("tf_shape, kind", [
    pytest.param([4, 5, 3], IMAGE, id="rank3-image"),
    pytest.param([7, 3], SEQUENCE, id="rank2-sequence"),
    pytest.param([10], VECTOR, id="rank1-vector"),
])
def test_layout_for_shape(tf_shape, kind):
    assert layout.layout_for_shape(tf_shape) == Layout(kind)


@pytest.mark.parametrize("tf_shape", [pytest.param([], id="scalar"), pytest.param([2, 3, 4, 5], id="rank4")])
def test_layout_for_shape_refuses_other_ranks(tf_shape):
    with pytest.raises(ValueError):
        layout.layout_for_shape(tf_shape)


def test_layout_normalises_hwc_to_a_tuple():
    assert Layout(FLAT_CHW, [2, 3, 4]) == Layout(FLAT_CHW, (2, 3, 4))
    assert Layout(FLAT_CHW, [2, 3, 4]).hwc == (2, 3, 4)
    assert Layout(IMAGE).hwc is None


# ----------------------------------------------------------------------------- axes

IMAGE_AXES = [pytest.param(axis, id="image-axis%d" % axis) for axis in (0, 1, 2, 3, -1, -2, -3, -4)]
VECTOR_AXES = [pytest.param(axis, id="vector-axis%d" % axis) for axis in (0, 1, -1, -2)]


@pytest.mark.parametrize("tf_axis", IMAGE_AXES)
def test_caffe_axis_of_an_image_concatenates_the_same_values(tf_axis):
    rng = rng_for(12)
    a = randn(rng, BATCH, 2, 3, 4)
    b = randn(rng, BATCH, 2, 3, 4)
    lay = Layout(IMAGE)
    caffe_axis = layout.caffe_axis(tf_axis, lay)
    tf_joined = np.concatenate([a, b], axis=tf_axis)
    caffe_joined = np.concatenate([to_nchw(a), to_nchw(b)], axis=caffe_axis)
    np.testing.assert_array_equal(caffe_joined, to_nchw(tf_joined))


@pytest.mark.parametrize("tf_axis", VECTOR_AXES)
def test_caffe_axis_of_a_vector_concatenates_the_same_values(tf_axis):
    rng = rng_for(13)
    a = randn(rng, BATCH, 5)
    b = randn(rng, BATCH, 5)
    caffe_axis = layout.caffe_axis(tf_axis, Layout(VECTOR))
    np.testing.assert_array_equal(np.concatenate([a, b], axis=caffe_axis), np.concatenate([a, b], axis=tf_axis))


def test_caffe_axis_refuses_a_flat_chw_tensor():
    with pytest.raises(ValueError):
        layout.caffe_axis(1, Layout(FLAT_CHW, (2, 3, 4)))


# ----------------------------------------------------------------------------- sequences

def to_nc1l(x_nlc):
    """(N, L, C) -> (N, C, 1, L) with explicit indices, independent of layout.nlc_to_nc1l."""
    n, length, c = x_nlc.shape
    out = np.empty((n, c, 1, length), dtype=x_nlc.dtype)
    for i in range(length):
        for k in range(c):
            out[:, k, 0, i] = x_nlc[:, i, k]
    return out


def test_sequence_round_trip_and_caffe_shape():
    x = randn(rng_for(21), BATCH, 5, 3)
    lay = Layout(SEQUENCE)
    assert layout.caffe_shape([5, 3], lay) == [3, 1, 5]
    blob = layout.activation_to_caffe(x, lay)
    np.testing.assert_array_equal(blob, to_nc1l(x))
    np.testing.assert_array_equal(layout.activation_to_tf(blob, lay, [5, 3]), x)
    np.testing.assert_array_equal(layout.activation_to_tf(blob.reshape(BATCH, -1), lay, [5, 3]), x)


def test_sequence_is_a_one_row_image():
    """A sequence blob is the image (1, L, C): hwc order of that image is the sequence's TF order."""
    x = randn(rng_for(22), BATCH, 4, 3)
    assert layout.as_hwc([4, 3], Layout(SEQUENCE)) == (1, 4, 3)
    np.testing.assert_array_equal(layout.activation_to_caffe(x, Layout(SEQUENCE)),
                                  layout.activation_to_caffe(x.reshape(BATCH, 1, 4, 3), Layout(IMAGE)))
    flat_chw = to_nc1l(x).reshape(BATCH, -1)
    np.testing.assert_array_equal(layout.activation_to_tf(flat_chw, Layout(FLAT_CHW, (1, 4, 3)), [12]),
                                  x.reshape(BATCH, -1))


@pytest.mark.parametrize("tf_axis", [pytest.param(a, id="sequence-axis%d" % a) for a in (0, 1, 2, -1, -2, -3)])
def test_caffe_axis_of_a_sequence_concatenates_the_same_values(tf_axis):
    rng = rng_for(23)
    a, b = randn(rng, BATCH, 4, 3), randn(rng, BATCH, 4, 3)
    caffe_axis = layout.caffe_axis(tf_axis, Layout(SEQUENCE))
    np.testing.assert_array_equal(np.concatenate([to_nc1l(a), to_nc1l(b)], axis=caffe_axis),
                                  to_nc1l(np.concatenate([a, b], axis=tf_axis)))


def test_conv1d_kernel_is_a_1xk_conv2d_kernel():
    """A Conv1D on (N, L, C) equals a Conv2D with a (1, k) window on the one-row image."""
    rng = rng_for(24)
    x, kernel = randn(rng, BATCH, 7, 3), randn(rng, 3, 3, 4)
    tf_out = tf_conv(x[:, None], kernel[None], (1, 2))[:, 0]
    caffe_out = caffe_conv(to_nc1l(x), layout.conv1d_kernel(kernel), (1, 2))
    np.testing.assert_allclose(caffe_out, to_nc1l(tf_out), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind, order", [(IMAGE, (2, 0, 1)), (SEQUENCE, (1, 0)), (VECTOR, (0,))])
def test_tf_axes_in_caffe_order(kind, order):
    assert layout.tf_axes_in_caffe_order(Layout(kind)) == order


# ----------------------------------------------------------------------------- exact transposes

def run_layers(layers, blobs):
    """A numpy model of the Caffe layers a transpose uses (Reshape with dim 0 = keep, Slice, Concat)."""
    for layer in layers:
        if layer.type == "Reshape":
            src = blobs[layer.bottoms[0]]
            dims = [src.shape[i] if d == 0 else d for i, d in enumerate(layer.params["reshape_param"]["shape"]["dim"])]
            blobs[layer.tops[0]] = src.reshape(dims)
        elif layer.type == "Slice":
            param = layer.params["slice_param"]
            parts = np.split(blobs[layer.bottoms[0]], param["slice_point"], axis=param["axis"])
            assert len(parts) == len(layer.tops)
            blobs.update(zip(layer.tops, parts))
        elif layer.type == "Concat":
            blobs[layer.tops[0]] = np.concatenate([blobs[b] for b in layer.bottoms],
                                                  axis=layer.params["concat_param"]["axis"])
        else:
            raise AssertionError("unexpected layer %s" % layer.type)
    return blobs


@pytest.mark.parametrize("dims, perm", [
    pytest.param([3, 4], [1, 0], id="2d-swap"),
    pytest.param([1, 4], [1, 0], id="2d-swap-one-row"),
    pytest.param([2, 3, 4], [0, 2, 1], id="swap-last-two"),
    pytest.param([2, 3, 4], [1, 0, 2], id="swap-first-two"),
    pytest.param([2, 3, 4], [2, 1, 0], id="reverse"),
    pytest.param([2, 3, 4], [1, 2, 0], id="rotate-left"),
    pytest.param([2, 3, 4], [2, 0, 1], id="rotate-right"),
    pytest.param([5, 1, 3], [2, 1, 0], id="reverse-with-unit-axis"),
])
def test_transpose_blob_is_an_exact_transpose(dims, perm):
    from import_caffe.handlers.reshape import transpose_blob
    x = randn(rng_for(31), BATCH, *dims)
    layers, top = transpose_blob("t", "x", dims, perm, "out")
    blobs = run_layers(layers, {"x": x})
    np.testing.assert_array_equal(blobs[top], np.transpose(x, [0] + [p + 1 for p in perm]))
    slices = sum(len(l.tops) for l in layers if l.type == "Slice")
    assert slices <= sum(dims)       # the cheapest moves: never more pieces than the axes' sizes together


def test_depthwise1d_kernel_is_a_1xk_depthwise_kernel():
    """DepthwiseConv1D on (N, L, C) equals a grouped Convolution with a (1, k) window on the one-row image."""
    rng = rng_for(25)
    x, kernel = randn(rng, BATCH, 7, 3), randn(rng, 3, 3, 2)
    tf_out = tf_depthwise(x[:, None], kernel[None], (1, 1))[:, 0]
    caffe_out = caffe_conv(to_nc1l(x), layout.depthwise1d_kernel(kernel), (1, 1), group=3)
    np.testing.assert_allclose(caffe_out, to_nc1l(tf_out), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ large kernels: Rearranged, not copied

LAZY_CASES = [
    ("conv", lambda k: layout.conv_kernel(k), (3, 3, 5, 7), lambda k: np.transpose(k, (3, 2, 0, 1))),
    ("dense", lambda k: layout.dense_kernel(k), (11, 6), lambda k: k.T),
    ("flatten", lambda k: layout.dense_kernel_after_flatten(k, (2, 3, 4)), (24, 5),
     lambda k: k.reshape(2, 3, 4, 5).transpose(3, 2, 0, 1).reshape(5, 24)),
    ("conv1x1", lambda k: layout.dense_kernel_as_conv1x1(k), (9, 4), lambda k: k.T[:, :, None, None]),
]


@pytest.mark.parametrize("name, make, shape, expected", LAZY_CASES, ids=[c[0] for c in LAZY_CASES])
@pytest.mark.parametrize("block_rows", [1, 2, 3, 100])
def test_rearranged_blocks_give_the_transposed_kernel(monkeypatch, name, make, shape, expected, block_rows):
    monkeypatch.setattr(layout, "LAZY_BYTES", 0)
    kernel = np.random.RandomState(len(shape)).standard_normal(shape).astype(np.float32)
    blob = make(kernel)
    want = np.ascontiguousarray(expected(kernel))
    assert isinstance(blob, layout.Rearranged)
    assert (blob.shape, blob.size, blob.nbytes, blob.ndim) == (want.shape, want.size, want.nbytes, want.ndim)
    np.testing.assert_array_equal(np.asarray(blob), want)
    monkeypatch.setattr(layout.Rearranged, "BLOCK_BYTES", block_rows * want.nbytes // want.shape[0])
    for buffers in (1, 3):
        rows, got = 0, []
        for start, piece in blob.blocks(buffers=buffers):
            assert start == rows and piece.flags.c_contiguous and piece.shape[1:] == want.shape[1:]
            rows += piece.shape[0]
            got.append(piece.copy())
        np.testing.assert_array_equal(np.concatenate(got), want)


def test_small_kernels_are_plain_arrays_and_the_source_is_never_written():
    small = np.ones((3, 3, 2, 4), np.float32)
    assert isinstance(layout.conv_kernel(small), np.ndarray)
    big = np.arange(512 * 1024, dtype=np.float32).reshape(1024, 512)
    big.flags.writeable = False             # bundle arrays are read-only views of the file
    blob = layout.dense_kernel(big)
    assert isinstance(blob, layout.Rearranged)
    np.testing.assert_array_equal(np.concatenate([p.copy() for _, p in blob.blocks()]), big.T)


def test_rearranged_refuses_a_permutation_that_does_not_lead_with_the_output_axis():
    with pytest.raises(ValueError):
        layout.Rearranged(np.zeros((4, 5), np.float32), (0, 1), (4, 5))
