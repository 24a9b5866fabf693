"""Merges end to end: Add (Eltwise SUM) of 2 and 3 inputs, Concatenate on the channel axis of images
(Caffe axis 1) and vectors, and along H and W of images (Caffe axes 2 and 3)."""
import keras
import pytest
from keras import layers


@pytest.mark.parametrize("count", [2, 3], ids=["two_inputs", "three_inputs"])
def test_add_images(check, count):
    inp = keras.Input((6, 5, 3), name="image")
    branches = [layers.Conv2D(4, 3, padding="same", name="branch%s" % "abc"[i])(inp) for i in range(count)]
    out = layers.Add(name="sum")(branches)
    check(keras.Model(inp, out))


@pytest.mark.parametrize("count", [2, 3], ids=["two_inputs", "three_inputs"])
def test_add_vectors(check, count):
    inp = keras.Input((7,), name="features")
    branches = [layers.Dense(4, name="branch%s" % "abc"[i])(inp) for i in range(count)]
    out = layers.Add(name="sum")(branches)
    check(keras.Model(inp, out))


def test_add_of_separate_model_inputs(check):
    a = keras.Input((4, 4, 3), name="left")
    b = keras.Input((4, 4, 3), name="right")
    c = keras.Input((4, 4, 3), name="third")
    out = layers.Add(name="sum")([a, b, c])
    check(keras.Model([a, b, c], out))


def test_residual_add(check):
    """x + f(x): one operand is the block's input blob itself."""
    inp = keras.Input((6, 6, 4), name="image")
    x = layers.Conv2D(4, 3, padding="same", name="stem")(inp)
    y = layers.Conv2D(4, 3, padding="same", activation="relu", name="body")(x)
    out = layers.Add(name="skip")([x, y])
    check(keras.Model(inp, out))


def test_add_of_flattened_images(check):
    """Two CHW-flattened blobs of the same (H, W, C) add element by element in any order."""
    inp = keras.Input((3, 4, 2), name="image")
    a = layers.Flatten(name="flat_a")(layers.Conv2D(3, 1, name="conv_a")(inp))
    b = layers.Flatten(name="flat_b")(layers.Conv2D(3, 1, name="conv_b")(inp))
    x = layers.Add(name="sum")([a, b])
    out = layers.Dense(4, name="head")(x)
    check(keras.Model(inp, out))


def test_add_of_flattened_and_dense(check):
    """A CHW-flattened blob plus a vector in TF order: the flattened one must be put in HWC order."""
    inp = keras.Input((3, 4, 2), name="image")
    vec = keras.Input((24,), name="features")
    a = layers.Flatten(name="flat")(inp)
    b = layers.Dense(24, name="dense")(vec)
    out = layers.Add(name="sum")([a, b])
    check(keras.Model([inp, vec], out))


def test_add_of_flattened_images_of_different_shapes(check):
    """(3, 4, 2) and (2, 4, 3) both flatten to 24 values, in different CHW orders."""
    a_in = keras.Input((3, 4, 2), name="wide")
    b_in = keras.Input((2, 4, 3), name="deep")
    x = layers.Add(name="sum")([layers.Flatten(name="flat_a")(a_in), layers.Flatten(name="flat_b")(b_in)])
    out = layers.Dense(3, name="head")(x)
    check(keras.Model([a_in, b_in], out))


@pytest.mark.parametrize("axis", [-1, 3], ids=["axis_-1", "axis_3"])
@pytest.mark.parametrize("count", [2, 3], ids=["two_inputs", "three_inputs"])
def test_concat_images_on_channels(check, axis, count):
    inp = keras.Input((5, 6, 3), name="image")
    branches = [layers.Conv2D(2 + i, 3, padding="same", name="branch%s" % "abc"[i])(inp) for i in range(count)]
    x = layers.Concatenate(axis=axis, name="concat")(branches)
    out = layers.Conv2D(4, 1, name="mix")(x)
    check(keras.Model(inp, out))


@pytest.mark.parametrize("axis", [-1, 1], ids=["axis_-1", "axis_1"])
def test_concat_vectors(check, axis):
    inp = keras.Input((6,), name="features")
    a = layers.Dense(3, name="branch_a")(inp)
    b = layers.Dense(5, name="branch_b")(inp)
    x = layers.Concatenate(axis=axis, name="concat")([a, b])
    out = layers.Dense(4, name="head")(x)
    check(keras.Model(inp, out))


@pytest.mark.parametrize("axis", [1, 2, -3, -2], ids=["axis_1_height", "axis_2_width", "axis_-3_height",
                                                         "axis_-2_width"])
def test_concat_images_spatially(check, axis):
    """Along H or W: the inputs differ in that dimension only."""
    spatial = 1 if axis in (1, -3) else 2
    shape_a, shape_b = [5, 6, 3], [5, 6, 3]
    shape_b[spatial - 1] = 2
    a = keras.Input(tuple(shape_a), name="first")
    b = keras.Input(tuple(shape_b), name="second")
    x = layers.Concatenate(axis=axis, name="concat")([a, b])
    out = layers.Conv2D(4, 3, padding="same", name="conv")(x)
    check(keras.Model([a, b], out))


def test_concat_of_flattened_images(check):
    """Concatenated HWC-flattened tensors: each piece must be in TF order before joining."""
    inp = keras.Input((3, 4, 2), name="image")
    a = layers.Flatten(name="flat_a")(layers.Conv2D(3, 1, name="conv_a")(inp))
    b = layers.Flatten(name="flat_b")(layers.Conv2D(2, 3, name="conv_b")(inp))
    x = layers.Concatenate(name="concat")([a, b])
    out = layers.Dense(4, name="head")(x)
    check(keras.Model(inp, out))


def test_concat_of_flattened_image_and_vector(check):
    inp = keras.Input((3, 3, 2), name="image")
    vec = keras.Input((4,), name="features")
    x = layers.Concatenate(name="concat")([layers.Flatten(name="flat")(inp), vec])
    out = layers.Dense(3, name="head")(x)
    check(keras.Model([inp, vec], out))


def test_elementwise_merges_on_images(check):
    """Multiply, Subtract, Average, Maximum, Minimum (2 and 3 inputs) on one set of branches whose
    values cross each other, and the broadcasts of squeeze-and-excitation blocks: a (1, 1, C) gate
    times or plus an (H, W, C) map (Scale / Bias along axis 0), either operand first, and (H, W, 1) or
    (1, W, C) operands repeated with Tile."""
    inp = keras.Input((5, 6, 3), name="image")
    a, b, c = [layers.Conv2D(4, 3, padding="same", name="branch_" + n)(inp) for n in "abc"]
    gate = layers.GlobalAveragePooling2D(keepdims=True, name="squeeze")(a)
    gate = layers.Conv2D(4, 1, activation="sigmoid", name="excite")(gate)
    column = layers.Conv2D(1, 1, name="column")(b)
    row = layers.AveragePooling2D((5, 1), name="row")(c)
    outs = [
        layers.Multiply(name="multiply")([a, b]),
        layers.Multiply(name="multiply3")([a, b, c]),
        layers.Subtract(name="subtract")([a, b]),
        layers.Average(name="average")([a, b]),
        layers.Average(name="average3")([a, b, c]),
        layers.Maximum(name="maximum")([a, b]),
        layers.Maximum(name="maximum3")([a, b, c]),
        layers.Minimum(name="minimum")([a, b]),
        layers.Minimum(name="minimum3")([a, b, c]),
        layers.Multiply(name="se_gate")([c, gate]),
        layers.Multiply(name="se_gate_first")([gate, c]),
        layers.Add(name="se_bias")([c, gate]),
        layers.Multiply(name="times_column")([a, column]),
        layers.Subtract(name="minus_row")([row, a]),
        layers.Maximum(name="max_row_column")([row, column]),
    ]
    report = check(keras.Model(inp, outs))
    types = dict((r["layer"], r["caffe_layers"]) for r in report["layers"])
    assert types["se_gate"] == ["se_gate/gate", "se_gate"], types["se_gate"]   # Flatten + Scale, no Tile


def test_elementwise_merges_on_vectors(check):
    """The same merges on vectors, a (1,) operand broadcast over C, and on flattened images."""
    inp = keras.Input((7,), name="features")
    a, b, c = [layers.Dense(5, name="branch_" + n)(inp) for n in "abc"]
    one = layers.Dense(1, name="one")(inp)
    image = keras.Input((2, 3, 2), name="image")
    flat_a = layers.Flatten(name="flat_a")(layers.Conv2D(2, 1, name="conv_a")(image))
    flat_b = layers.Flatten(name="flat_b")(layers.Conv2D(2, 1, name="conv_b")(image))
    outs = [
        layers.Multiply(name="multiply")([a, b]),
        layers.Subtract(name="subtract")([a, b]),
        layers.Average(name="average3")([a, b, c]),
        layers.Maximum(name="maximum")([a, b]),
        layers.Minimum(name="minimum3")([a, b, c]),
        layers.Multiply(name="times_one")([a, one]),
        layers.Subtract(name="one_minus")([one, a]),
        layers.Dense(3, name="head")(layers.Minimum(name="flat_minimum")([flat_a, flat_b])),
        layers.Subtract(name="flat_subtract")([flat_a, flat_b]),
    ]
    check(keras.Model([inp, image], outs))
