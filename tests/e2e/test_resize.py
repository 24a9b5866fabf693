"""Spatial resizing end to end: UpSampling2D and Resizing (nearest: a ones-kernel depthwise
Deconvolution; bilinear: edge replication + a fixed bilinear depthwise Deconvolution) and Cropping2D (Slice). Feature maps are
compared directly (no pooling hides a one-cell shift); odd sizes and 1- and 2-cell maps reach the edges."""
import keras
import pytest
from keras import layers

from conftest import convert, randomize

UPSAMPLE_BRANCHES = {
    "nearest_2x2": dict(size=2, interpolation="nearest"),
    "nearest_3x2": dict(size=(3, 2), interpolation="nearest"),
    "bilinear_2x2": dict(size=2, interpolation="bilinear"),
    "bilinear_3x3": dict(size=3, interpolation="bilinear"),
    "bilinear_2x3": dict(size=(2, 3), interpolation="bilinear"),
    "bilinear_4x1": dict(size=(4, 1), interpolation="bilinear"),
    "bilinear_1x1": dict(size=1, interpolation="bilinear"),
}


def upsampling_model():
    """Every setting on a 5x7 map, and 2x1, 1x3 and 1x1 maps (edge rows that are also the other edge;
    one-cell axes are tiled)."""
    inp = keras.Input((5, 7, 3), name="image")
    x = layers.Conv2D(3, 1, name="features")(inp)
    outs = [layers.UpSampling2D(name=name, **UPSAMPLE_BRANCHES[name])(x) for name in sorted(UPSAMPLE_BRANCHES)]
    tiny = layers.Cropping2D(((3, 0), (0, 6)), name="crop_2x1")(x)
    outs.append(layers.UpSampling2D((3, 2), interpolation="bilinear", name="bilinear_3x2_of_2x1")(tiny))
    outs.append(layers.UpSampling2D((2, 3), interpolation="nearest", name="nearest_2x3_of_2x1")(tiny))
    row = layers.Cropping2D(((2, 2), (1, 3)), name="crop_1x3")(x)
    outs.append(layers.UpSampling2D((2, 2), interpolation="bilinear", name="bilinear_2x2_of_1x3")(row))
    # keras.layers.Resizing by whole factors is the same upsampling
    outs.append(layers.Resizing(10, 21, interpolation="bilinear", name="resizing_bilinear_10x21")(x))
    outs.append(layers.Resizing(15, 7, interpolation="nearest", name="resizing_nearest_15x7")(x))
    # DeepLab's image-pooling branch: a 1x1 map upsampled to the feature map's size (Tile)
    pooled = layers.GlobalAveragePooling2D(keepdims=True, name="image_pool")(x)
    outs.append(layers.UpSampling2D((5, 7), interpolation="bilinear", name="bilinear_5x7_of_1x1")(pooled))
    return keras.Model(inp, outs)


def test_upsampling2d(check):
    check(upsampling_model())


CROP_BRANCHES = {
    "crop_int_1": 1,
    "crop_symmetric_2_1": (2, 1),
    "crop_asymmetric_1_2_0_3": ((1, 2), (0, 3)),
    "crop_top_only_2_0_0_0": ((2, 0), (0, 0)),
    "crop_right_only_0_0_0_1": ((0, 0), (0, 1)),
    "crop_none": 0,
}


def cropping_model():
    inp = keras.Input((6, 7, 3), name="image")
    x = layers.Conv2D(4, 1, name="features")(inp)
    outs = [layers.Cropping2D(CROP_BRANCHES[name], name=name)(x) for name in sorted(CROP_BRANCHES)]
    # a crop feeding a convolution: a one-cell shift shows in the next layer as well
    outs.append(layers.Conv2D(2, 3, padding="same", name="after_crop")(outs[0]))
    return keras.Model(inp, outs)


def test_cropping2d(check):
    check(cropping_model())


def test_upsampling_then_conv_transpose_decoder(check):
    """A decoder: bilinear upsampling, a strided SAME Conv2DTranspose, cropping and a SAME conv."""
    inp = keras.Input((4, 5, 6), name="code")
    x = layers.UpSampling2D(2, interpolation="bilinear", name="up")(inp)
    x = layers.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu", name="deconv")(x)
    x = layers.Cropping2D(((1, 0), (0, 1)), name="crop")(x)
    out = layers.SeparableConv2D(3, 3, padding="same", depth_multiplier=2, name="head")(x)
    check(keras.Model(inp, out))


def test_resizing_by_a_fraction_is_refused_with_the_reason(tmp_path):
    from shared.errors import UnsupportedError
    inp = keras.Input((4, 6, 2), name="image")
    out = layers.Resizing(6, 6, name="resize")(inp)
    with pytest.raises(UnsupportedError) as info:
        convert(randomize(keras.Model(inp, out)), tmp_path)
    assert "Resizing" in str(info.value) and "only whole upscaling factors" in str(info.value)


@pytest.mark.parametrize("interpolation", ["bicubic", "area"])
def test_other_interpolations_are_refused_with_the_reason(tmp_path, interpolation):
    from shared.errors import UnsupportedError
    inp = keras.Input((4, 4, 2), name="image")
    out = layers.UpSampling2D(2, interpolation=interpolation, name="up")(inp)
    with pytest.raises(UnsupportedError) as info:
        convert(randomize(keras.Model(inp, out)), tmp_path)
    message = str(info.value)
    assert "UpSampling2D" in message and "interpolation=%r" % interpolation in message
    assert "nearest, bilinear" in message
