"""Pooling end to end: MaxPooling2D and AveragePooling2D in every padding/stride regime (Caffe's ceil
rounding and padded average divisor against TF's floor and real-cell count), and global pooling."""
import keras
import pytest
from keras import layers

POOL_CASES = {
    "p1_s1": dict(pool_size=1, strides=1),
    "p1_s2_stride_over_pool": dict(pool_size=1, strides=2),
    "p2_s1": dict(pool_size=2, strides=1),
    "p2_s2_default_stride": dict(pool_size=2),
    "p2_s3_stride_over_pool": dict(pool_size=2, strides=3),
    "p3_s1": dict(pool_size=3, strides=1),
    "p3_s2": dict(pool_size=3, strides=2),
    "p3_s3": dict(pool_size=3, strides=3),
    "p4_s1": dict(pool_size=4, strides=1),
    "p4_s2": dict(pool_size=4, strides=2),
    "p4_s3": dict(pool_size=4, strides=3),
    "p2x3_s1x2_non_square": dict(pool_size=(2, 3), strides=(1, 2)),
    "p3x1_s2x1_non_square": dict(pool_size=(3, 1), strides=(2, 1)),
    "p1x4_s3x2_non_square": dict(pool_size=(1, 4), strides=(3, 2)),
}
POOL_LAYERS = {"max": layers.MaxPooling2D, "avg": layers.AveragePooling2D}
SIZES = [(7, 7), (8, 8), (9, 6)]
SIZE_IDS = ["odd7x7", "even8x8", "mixed9x6"]


@pytest.mark.parametrize("case", sorted(POOL_CASES), ids=sorted(POOL_CASES))
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("mode", sorted(POOL_LAYERS))
@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_pool2d(check, case, padding, mode, size):
    inp = keras.Input(size + (3,), name="image")
    out = POOL_LAYERS[mode](padding=padding, name="pool", **POOL_CASES[case])(inp)
    check(keras.Model(inp, out))


@pytest.mark.parametrize("mode", sorted(POOL_LAYERS))
def test_pool_between_convolutions(check, mode):
    """A pooled map feeding a convolution: a wrong crop or divisor shows downstream too."""
    inp = keras.Input((9, 9, 3), name="image")
    x = layers.Conv2D(4, 3, padding="same", name="conv1")(inp)
    x = POOL_LAYERS[mode](3, strides=2, padding="same", name="pool")(x)
    out = layers.Conv2D(5, 3, name="conv2")(x)
    check(keras.Model(inp, out))


GLOBAL_LAYERS = {"avg": layers.GlobalAveragePooling2D, "max": layers.GlobalMaxPooling2D}


@pytest.mark.parametrize("keepdims", [False, True], ids=["keepdims_false", "keepdims_true"])
@pytest.mark.parametrize("mode", sorted(GLOBAL_LAYERS))
@pytest.mark.parametrize("size", [(7, 7), (8, 6)], ids=["odd7x7", "even8x6"])
def test_global_pool_then_dense(check, mode, keepdims, size):
    """keepdims=False is a (C,) vector; keepdims=True a (1, 1, C) image, where Dense is a 1x1 conv."""
    inp = keras.Input(size + (6,), name="image")
    x = layers.Conv2D(6, 3, padding="same", name="conv")(inp)
    x = GLOBAL_LAYERS[mode](keepdims=keepdims, name="gpool")(x)
    out = layers.Dense(4, name="head")(x)
    check(keras.Model(inp, out))


@pytest.mark.parametrize("keepdims", [False, True], ids=["keepdims_false", "keepdims_true"])
@pytest.mark.parametrize("mode", sorted(GLOBAL_LAYERS))
def test_global_pool_as_output(check, mode, keepdims):
    inp = keras.Input((5, 7, 4), name="image")
    out = GLOBAL_LAYERS[mode](keepdims=keepdims, name="gpool")(inp)
    check(keras.Model(inp, out))


@pytest.mark.parametrize("mode", sorted(GLOBAL_LAYERS))
def test_global_pool_keepdims_flatten_dense(check, mode):
    """(1, 1, C) -> Flatten -> Dense: the flatten of a 1x1 map needs no reorder, the Dense sees C values."""
    inp = keras.Input((6, 6, 5), name="image")
    x = GLOBAL_LAYERS[mode](keepdims=True, name="gpool")(inp)
    x = layers.Flatten(name="flat")(x)
    out = layers.Dense(3, name="head")(x)
    check(keras.Model(inp, out))
