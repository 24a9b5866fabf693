"""import_caffe.padding: Caffe's pooling, planned by the module, must reproduce TF's pooling exactly.

Both poolings are brute-force simulated in plain numpy on a random 2-D map:

* TF: window i of an axis covers [i*stride - before, i*stride - before + kernel); MAX takes the largest
  real cell, AVG the mean of the real cells (padding never counts).
* Caffe (pooling_layer.cpp): out = ceil((in + 2*pad - k) / stride) + 1 per axis; if the layer has any
  padding (pad_h or pad_w non-zero) each axis drops a last window starting at or beyond in + pad. MAX
  clips windows to the image; AVE divides by (min(start + k, in + pad) - start) over both axes, start =
  j*stride - pad, and sums only real cells.

The module's plan (pads, windows to skip, counts) + slicing + avg_divisors applied to the simulated Caffe
output must give TF's output to 1e-6.
"""
import itertools

import numpy as np
import pytest

from import_caffe import padding

FLT_MAX = 3.4028234663852886e38
TOL = 1e-6


# ----------------------------------------------------------------------------- reference simulations

def ceil_div(a, b):
    return -(-a // b)


def tf_pads(mode, size, kernel, stride):
    """(before, after) of TF's SAME / VALID padding for one axis."""
    if mode == "valid":
        return 0, 0
    out = ceil_div(size, stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def tf_pool(x, kernel, stride, pads, mode):
    """TF pooling of a 2-D map; pads = (top, bottom, left, right)."""
    h, w = x.shape
    oh = (h + pads[0] + pads[1] - kernel[0]) // stride[0] + 1
    ow = (w + pads[2] + pads[3] - kernel[1]) // stride[1] + 1
    out = np.empty((oh, ow))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * stride[0] - pads[0], j * stride[1] - pads[2]
            cells = x[max(r0, 0):min(r0 + kernel[0], h), max(c0, 0):min(c0 + kernel[1], w)]
            assert cells.size, "a TF window without real cells"
            out[i, j] = cells.max() if mode == "MAX" else cells.mean()
    return out


def caffe_pool(x, kernel, stride, pad, mode):
    """Caffe's Pooling layer (MAX or AVE) on a 2-D map with symmetric pad = (pad_h, pad_w)."""
    h, w = x.shape
    layer_padded = pad[0] > 0 or pad[1] > 0

    def count(size, k, s, p):
        out = ceil_div(size + 2 * p - k, s) + 1
        if layer_padded and (out - 1) * s >= size + p:
            out -= 1
        return out

    oh = count(h, kernel[0], stride[0], pad[0])
    ow = count(w, kernel[1], stride[1], pad[1])
    out = np.empty((oh, ow))
    for i in range(oh):
        for j in range(ow):
            hs, ws = i * stride[0] - pad[0], j * stride[1] - pad[1]
            if mode == "MAX":
                he, we = min(hs + kernel[0], h), min(ws + kernel[1], w)
                cells = x[max(hs, 0):he, max(ws, 0):we]
                out[i, j] = cells.max() if cells.size else -FLT_MAX
            else:
                he, we = min(hs + kernel[0], h + pad[0]), min(ws + kernel[1], w + pad[1])
                pool_size = (he - hs) * (we - ws)
                cells = x[max(hs, 0):min(he, h), max(ws, 0):min(we, w)]
                out[i, j] = cells.sum() / pool_size if pool_size > 0 else 0.0
    return out


def through_caffe(x, kernel, stride, pads, mode, plans):
    """What the importer computes: Caffe's Pooling with the planned pads, the Slice of the kept windows,
    and for AVE the Scale by avg_divisors."""
    pooled = caffe_pool(x, kernel, stride, (plans[0].pad, plans[1].pad), mode)
    assert pooled.shape == (plans[0].caffe_count, plans[1].caffe_count), \
        "the plan expects %r Caffe windows, Caffe makes %r" % ((plans[0].caffe_count, plans[1].caffe_count),
                                                                 pooled.shape)
    kept = pooled[plans[0].skip:plans[0].skip + plans[0].count, plans[1].skip:plans[1].skip + plans[1].count]
    assert kept.shape == (plans[0].count, plans[1].count)
    if mode == "AVE":
        factor = padding.avg_divisors(x.shape, kernel, stride, pads, plans)
        if factor is not None:
            assert factor.shape == kept.shape
            kept = kept * factor
    return kept


def random_map(h, w, seed):
    return np.random.RandomState(seed).standard_normal((h, w)).astype(np.float32).astype(np.float64)


# ----------------------------------------------------------------------------- cases

SIZES = range(1, 9)
KERNELS = range(1, 5)
STRIDES = range(1, 4)


def axis_cases():
    """Every (size, kernel, stride, SAME/VALID) with at least one TF window."""
    cases = []
    for size, kernel, stride, mode in itertools.product(SIZES, KERNELS, STRIDES, ("same", "valid")):
        if mode == "valid" and kernel > size:
            continue
        before, after = tf_pads(mode, size, kernel, stride)
        cases.append((size, kernel, stride, before, after, mode))
    return cases


AXES = axis_cases()


def axis_id(case):
    size, kernel, stride, before, after, mode = case
    return "in%d-k%d-s%d-%s%d%d" % (size, kernel, stride, mode, before, after)


def paired_cases():
    """Each axis case as H, paired with another as W (a fixed stride through the list, so every case
    meets a variety of partners), plus named pairs where one axis is unpadded and the other padded."""
    pairs = [(AXES[i], AXES[(7 * i + 3) % len(AXES)]) for i in range(len(AXES))]
    named = [
        # stride > kernel on an unpadded axis: Caffe drops that axis's last window too, as soon as the
        # other axis is padded.
        ((3, 1, 3, 0, 0, "same"), (5, 3, 1, 1, 1, "same")),
        ((5, 3, 1, 1, 1, "same"), (3, 1, 3, 0, 0, "same")),
        ((7, 2, 3, 0, 0, "valid"), (6, 3, 2, 0, 1, "same")),
        ((8, 1, 3, 0, 0, "valid"), (8, 3, 3, 1, 1, "same")),
    ]
    return pairs + named


PAIRS = paired_cases()
MODES = [pytest.param("MAX", id="max"), pytest.param("AVE", id="avg")]


def assert_matches_tf(x, kernel, stride, pads, mode, plans):
    expected = tf_pool(x, kernel, stride, pads, mode)
    got = through_caffe(x, kernel, stride, pads, mode, plans)
    np.testing.assert_allclose(got, expected, rtol=TOL, atol=TOL)


# ----------------------------------------------------------------------------- tests

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", [pytest.param(c, id=axis_id(c)) for c in AXES])
def test_plan_pool_axis_reproduces_tf_pooling_along_one_axis(case, mode):
    """One pooled axis; the other is a no-op (size 4, kernel 1, stride 1, unpadded)."""
    size, kernel, stride, before, after, _ = case
    plan = padding.plan_pool_axis(size, kernel, stride, before, after)
    assert plan is not None, "TF SAME/VALID pooling always has a Caffe plan"
    other = padding.plan_pool_axis(4, 1, 1, 0, 0)
    x = random_map(size, 4, seed=size * 100 + kernel * 10 + stride)
    assert_matches_tf(x, (kernel, 1), (stride, 1), (before, after, 0, 0), mode, [plan, other])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("h_case, w_case", [pytest.param(h, w, id="%s--%s" % (axis_id(h), axis_id(w)))
                                            for h, w in PAIRS])
def test_plan_pool_reproduces_tf_pooling_on_a_2d_map(h_case, w_case, mode):
    h, kh, sh, top, bottom, _ = h_case
    w, kw, sw, left, right, _ = w_case
    kernel, stride, pads = (kh, kw), (sh, sw), (top, bottom, left, right)
    plans = padding.plan_pool((h, w), kernel, stride, pads)
    assert plans is not None
    x = random_map(h, w, seed=h * 1000 + w * 100 + kh * 10 + kw)
    assert_matches_tf(x, kernel, stride, pads, mode, plans)


@pytest.mark.parametrize("h_case, w_case", [pytest.param(h, w, id="%s--%s" % (axis_id(h), axis_id(w)))
                                            for h, w in PAIRS])
def test_plan_pool_keeps_each_axis_pad_and_window_choice(h_case, w_case):
    h, kh, sh, top, bottom, _ = h_case
    w, kw, sw, left, right, _ = w_case
    plans = padding.plan_pool((h, w), (kh, kw), (sh, sw), (top, bottom, left, right))
    singles = [padding.plan_pool_axis(h, kh, sh, top, bottom), padding.plan_pool_axis(w, kw, sw, left, right)]
    assert [(p.pad, p.skip, p.count) for p in plans] == [(p.pad, p.skip, p.count) for p in singles]


def test_plan_pool_counts_the_window_caffe_drops_on_an_unpadded_axis():
    # 3 rows, kernel 1, stride 3: unpadded, ceil((3 - 1) / 3) + 1 = 2 windows, the second starting at
    # row 3, outside the image. Caffe drops it only because the columns are padded.
    plans = padding.plan_pool((3, 5), (1, 3), (3, 1), (0, 0, 1, 1))
    assert (plans[0].pad, plans[0].caffe_count, plans[0].count) == (0, 1, 1)
    assert (plans[1].pad, plans[1].caffe_count, plans[1].count) == (1, 5, 5)
    unpadded = padding.plan_pool((3, 5), (1, 3), (3, 1), (0, 0, 0, 0))
    assert (unpadded[0].caffe_count, unpadded[0].count) == (2, 1)


@pytest.mark.parametrize("size, kernel, stride, pad, expected", [
    pytest.param(5, 3, 2, 0, 2, id="in5-k3-s2-unpadded"),
    pytest.param(5, 3, 2, 1, 3, id="in5-k3-s2-pad1"),
    pytest.param(6, 3, 2, 1, 4, id="in6-k3-s2-pad1-ceil"),
    pytest.param(4, 2, 2, 1, 3, id="in4-k2-s2-pad1-last-window-kept"),
    pytest.param(3, 2, 2, 1, 2, id="in3-k2-s2-pad1-last-window-in-padding-dropped"),
    pytest.param(3, 1, 3, 0, 2, id="in3-k1-s3-unpadded-window-outside-kept"),
])
def test_caffe_pool_out(size, kernel, stride, pad, expected):
    assert padding.caffe_pool_out(size, kernel, stride, pad) == expected


@pytest.mark.parametrize("size, kernel, stride, pad, expected", [
    pytest.param(3, 1, 3, 0, 1, id="in3-k1-s3-unpadded-axis-of-a-padded-layer"),
    pytest.param(5, 3, 2, 0, 2, id="in5-k3-s2-nothing-to-drop"),
])
def test_caffe_pool_out_of_a_padded_layer(size, kernel, stride, pad, expected):
    assert padding.caffe_pool_out(size, kernel, stride, pad, layer_padded=True) == expected


@pytest.mark.parametrize("pads, expected", [
    pytest.param([1, 1, 2, 2], (1, 2), id="symmetric"),
    pytest.param([0, 0, 0, 0], (0, 0), id="none"),
    pytest.param([0, 1, 1, 1], None, id="rows-asymmetric"),
    pytest.param([1, 1, 1, 0], None, id="columns-asymmetric"),
])
def test_symmetric(pads, expected):
    assert padding.symmetric(pads) == expected


def test_avg_divisors_is_none_when_caffe_already_counts_real_cells_only():
    plans = padding.plan_pool((6, 6), (2, 2), (2, 2), (0, 0, 0, 0))
    assert padding.avg_divisors((6, 6), (2, 2), (2, 2), (0, 0, 0, 0), plans) is None


def test_avg_divisors_corrects_the_padded_border():
    # in 4, k 3, s 1, SAME pads (1, 1): Caffe divides every window by 3, TF by 2 at the borders.
    plans = padding.plan_pool((4, 4), (3, 3), (1, 1), (1, 1, 1, 1))
    factor = padding.avg_divisors((4, 4), (3, 3), (1, 1), (1, 1, 1, 1), plans)
    per_axis = np.array([3 / 2.0, 1.0, 1.0, 3 / 2.0])
    assert factor.dtype == np.float32
    np.testing.assert_allclose(factor, np.outer(per_axis, per_axis), rtol=1e-7)


# ----------------------------------------------------------------------------- property test

def test_property_random_pooling_matches_tf():
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies

    axis = st.tuples(st.integers(1, 12), st.integers(1, 6), st.integers(1, 5), st.sampled_from(["same", "valid"]))

    @hypothesis.settings(max_examples=150, deadline=None, derandomize=True, database=None)
    @hypothesis.given(h_axis=axis, w_axis=axis, mode=st.sampled_from(["MAX", "AVE"]), seed=st.integers(0, 2 ** 31))
    def check(h_axis, w_axis, mode, seed):
        (h, kh, sh, hmode), (w, kw, sw, wmode) = h_axis, w_axis
        hypothesis.assume(not (hmode == "valid" and kh > h) and not (wmode == "valid" and kw > w))
        pads = tf_pads(hmode, h, kh, sh) + tf_pads(wmode, w, kw, sw)
        plans = padding.plan_pool((h, w), (kh, kw), (sh, sw), pads)
        assert plans is not None
        assert_matches_tf(random_map(h, w, seed), (kh, kw), (sh, sw), pads, mode, plans)

    check()
