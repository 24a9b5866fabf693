"""Shape changes end to end: Flatten (TF flattens HWC, Caffe CHW: a following Dense is permuted, a
Flatten output is put back in TF order), Reshape, and ZeroPadding2D (symmetric and asymmetric)."""
import os

import keras
import pytest
from keras import layers

from conftest import assert_parity, caffe_layer_types, convert, randomize, run_export


@pytest.mark.parametrize("use_bias", [True, False], ids=["with_bias", "without_bias"])
@pytest.mark.parametrize("size", [(4, 3, 5), (1, 6, 4), (5, 1, 3), (3, 3, 1)],
                         ids=["4x3x5", "1x6x4_one_row", "5x1x3_one_column", "3x3x1_one_channel"])
def test_flatten_then_dense(check, use_bias, size):
    inp = keras.Input(size, name="image")
    x = layers.Flatten(name="flat")(inp)
    out = layers.Dense(6, use_bias=use_bias, name="fc")(x)
    check(keras.Model(inp, out))


def test_conv_flatten_dense_classifier(check):
    """The VGG-style head: conv -> pool -> flatten -> dense -> dense softmax."""
    inp = keras.Input((8, 8, 3), name="image")
    x = layers.Conv2D(6, 3, padding="same", activation="relu", name="conv")(inp)
    x = layers.MaxPooling2D(name="pool")(x)
    x = layers.Flatten(name="flat")(x)
    x = layers.Dense(10, activation="relu", name="fc1")(x)
    out = layers.Dense(5, activation="softmax", name="probs")(x)
    check(keras.Model(inp, out))


@pytest.mark.parametrize("size", [(4, 3, 5), (1, 1, 6)], ids=["4x3x5", "1x1x6"])
def test_flatten_as_output(check, size):
    """The output blob must hold the values in TF's HWC order (the report reads it as a plain vector)."""
    inp = keras.Input(size, name="image")
    x = layers.Conv2D(size[2], 1, name="conv")(inp)
    out = layers.Flatten(name="flat")(x)
    check(keras.Model(inp, out))


def test_flatten_output_blob_is_in_tf_order(tmp_path):
    """Checked without the layout machinery: the report's output row is a VECTOR in the Caffe blob
    named after the output, and the net reorders it from CHW (Slice/Concat) before that blob."""
    inp = keras.Input((3, 2, 4), name="image")
    out = layers.Flatten(name="flat")(layers.Conv2D(4, 1, name="conv")(inp))
    result = convert(randomize(keras.Model(inp, out)), tmp_path)
    report = assert_parity(result)
    assert [o["layer"] for o in report["outputs"]] == ["flat"]
    assert report["outputs"][0]["blob"] == "flat"
    types = caffe_layer_types(result)
    assert "Concat" in types and "Slice" in types


def test_flatten_as_output_and_dense_input(check):
    """One CHW blob feeds the Dense (permuted kernel) while the output gets the TF-order copy."""
    inp = keras.Input((3, 4, 2), name="image")
    flat = layers.Flatten(name="flat")(inp)
    logits = layers.Dense(3, name="logits")(flat)
    check(keras.Model(inp, [flat, logits]))


def test_flatten_as_output_and_concat_input(check):
    """A Concat needs the flattened tensor in TF order too: the one reordered copy serves both."""
    inp = keras.Input((3, 4, 2), name="image")
    vec = keras.Input((5,), name="features")
    flat = layers.Flatten(name="flat")(inp)
    joined = layers.Concatenate(name="joined")([flat, vec])
    check(keras.Model([inp, vec], [flat, joined]))


def test_flatten_dropout_as_output(check):
    inp = keras.Input((3, 4, 2), name="image")
    x = layers.Flatten(name="flat")(inp)
    out = layers.Dropout(0.3, name="drop")(x)
    check(keras.Model(inp, out))


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "softmax"])
def test_flatten_activation_dense(check, activation):
    """An element-wise (or order-free) activation between Flatten and Dense keeps the permuted order."""
    inp = keras.Input((3, 4, 5), name="image")
    x = layers.Flatten(name="flat")(inp)
    x = layers.Activation(activation, name="act")(x)
    out = layers.Dense(4, name="fc")(x)
    check(keras.Model(inp, out))


def test_flatten_activation_as_output(check):
    inp = keras.Input((3, 4, 5), name="image")
    x = layers.Flatten(name="flat")(inp)
    out = layers.Activation("tanh", name="act")(x)
    check(keras.Model(inp, out))


def test_flatten_dropout_dense(check):
    inp = keras.Input((3, 4, 5), name="image")
    x = layers.Flatten(name="flat")(inp)
    x = layers.Dropout(0.5, name="drop")(x)
    out = layers.Dense(4, name="fc")(x)
    check(keras.Model(inp, out))


def test_flatten_scalar_rescaling_dense(check):
    inp = keras.Input((3, 4, 5), name="image")
    x = layers.Flatten(name="flat")(inp)
    x = layers.Rescaling(0.5, offset=-1.0, name="rescale")(x)
    out = layers.Dense(4, name="fc")(x)
    check(keras.Model(inp, out))


def test_vector_reshape_to_1x1xc_then_conv(check):
    inp = keras.Input((6,), name="features")
    x = layers.Dense(8, name="fc")(inp)
    x = layers.Reshape((1, 1, 8), name="to_image")(x)
    out = layers.Conv2D(4, 1, name="conv")(x)
    check(keras.Model(inp, out))


def test_1x1xc_reshape_to_vector_then_dense(check):
    inp = keras.Input((5, 5, 3), name="image")
    x = layers.Conv2D(7, 5, name="conv")(inp)          # (1, 1, 7)
    x = layers.Reshape((7,), name="to_vector")(x)
    out = layers.Dense(4, name="fc")(x)
    check(keras.Model(inp, out))


@pytest.mark.parametrize("target", [(-1,), (60,)], ids=["minus_one", "explicit_size"])
def test_reshape_flattening_then_dense(check, target):
    inp = keras.Input((3, 4, 5), name="image")
    x = layers.Reshape(target, name="flat")(inp)
    out = layers.Dense(4, name="fc")(x)
    check(keras.Model(inp, out))


def test_reshape_flattening_as_output(check):
    inp = keras.Input((3, 4, 5), name="image")
    out = layers.Reshape((-1,), name="flat")(inp)
    check(keras.Model(inp, out))


def test_flatten_then_reshape_back(check):
    """Flatten then Reshape to the same (H, W, C): the CHW-flattened blob is already the image."""
    inp = keras.Input((3, 4, 5), name="image")
    x = layers.Flatten(name="flat")(inp)
    x = layers.Reshape((3, 4, 5), name="unflat")(x)
    out = layers.Conv2D(2, 3, padding="same", name="conv")(x)
    check(keras.Model(inp, out))


def test_reshape_keeping_channels(check):
    """(4, 6, C) -> (8, 3, C): in both HWC and CHW order the channel planes stay contiguous."""
    inp = keras.Input((4, 6, 3), name="image")
    x = layers.Reshape((8, 3, 3), name="regrid")(inp)
    out = layers.Conv2D(2, 3, name="conv")(x)
    check(keras.Model(inp, out))


REGRID_CASES = {
    "image_4x4x2_to_4x2x4": ((4, 4, 2), (4, 2, 4)),
    "image_2x3x4_to_4x3x2": ((2, 3, 4), (4, 3, 2)),
    "image_4x4x1_to_2x2x4_one_channel_source": ((4, 4, 1), (2, 2, 4)),
    "image_2x2x3_to_12x1x1_one_channel_target": ((2, 2, 3), (12, 1, 1)),
    "image_1x1x12_to_2x2x3_one_cell_source": ((1, 1, 12), (2, 2, 3)),
    "image_2x2x3_to_1x1x12_one_cell_target": ((2, 2, 3), (1, 1, 12)),
}


@pytest.mark.parametrize("case", sorted(REGRID_CASES), ids=sorted(REGRID_CASES))
def test_reshape_moving_values_across_channels(check, case):
    """A reshape that changes the channel count: TF regroups HWC-ordered values, so the Caffe blob
    must be reordered (Slice + Concat), not just reshaped."""
    source, target = REGRID_CASES[case]
    inp = keras.Input(source, name="image")
    x = layers.Conv2D(source[2], 1, name="conv")(inp)
    x = layers.Reshape(target, name="regrid")(x)
    out = layers.Conv2D(3, 1, name="mix")(x)
    check(keras.Model(inp, out))


def test_dense_reshape_to_grid_then_conv(check):
    """The decoder / generator stem: Dense -> Reshape((H, W, C)) -> Conv2D."""
    inp = keras.Input((6,), name="latent")
    x = layers.Dense(3 * 4 * 5, name="project")(inp)
    x = layers.Reshape((3, 4, 5), name="grid")(x)
    out = layers.Conv2D(2, 3, padding="same", name="conv")(x)
    check(keras.Model(inp, out))


def test_flatten_then_reshape_to_another_grid(check):
    inp = keras.Input((3, 4, 2), name="image")
    x = layers.Flatten(name="flat")(inp)
    x = layers.Reshape((4, 3, 2), name="regrid")(x)
    out = layers.Conv2D(2, 1, name="conv")(x)
    check(keras.Model(inp, out))


def test_reshape_across_channels_as_output(check):
    inp = keras.Input((4, 4, 2), name="image")
    out = layers.Reshape((2, 2, 8), name="regrid")(inp)
    check(keras.Model(inp, out))


@pytest.mark.parametrize("pool", ["avg", "max"])
def test_squeeze_excitation_shape(check, pool):
    """GlobalPooling -> Reshape((1, 1, C)) -> Conv2D 1x1 -> Conv2D 1x1 sigmoid: the SE gate's shape."""
    inp = keras.Input((6, 5, 8), name="image")
    gap = {"avg": layers.GlobalAveragePooling2D, "max": layers.GlobalMaxPooling2D}[pool]
    x = gap(name="squeeze")(inp)
    x = layers.Reshape((1, 1, 8), name="se_reshape")(x)
    x = layers.Conv2D(2, 1, activation="relu", name="se_reduce")(x)
    out = layers.Conv2D(8, 1, activation="sigmoid", name="se_expand")(x)
    check(keras.Model(inp, out))


PAD_CASES = {
    "int_1": 1,
    "int_2": 2,
    "tuple_2x1_symmetric": (2, 1),
    "symmetric_1_1_2_2": ((1, 1), (2, 2)),
    "asymmetric_bottom_right_0_1_0_1": ((0, 1), (0, 1)),
    "asymmetric_2_0_1_3": ((2, 0), (1, 3)),
    "asymmetric_top_only_1_0_0_0": ((1, 0), (0, 0)),
    "asymmetric_right_only_0_0_0_2": ((0, 0), (0, 2)),
    "zero": 0,
}


@pytest.mark.parametrize("case", sorted(PAD_CASES), ids=sorted(PAD_CASES))
@pytest.mark.parametrize("size", [(6, 6), (5, 7)], ids=["even6x6", "odd5x7"])
def test_zero_padding(check, case, size):
    inp = keras.Input(size + (3,), name="image")
    x = layers.Conv2D(4, 1, name="conv1")(inp)        # a bias, so the zero border differs from the map
    out = layers.ZeroPadding2D(PAD_CASES[case], name="pad")(x)
    check(keras.Model(inp, out))


@pytest.mark.parametrize("case", ["asymmetric_bottom_right_0_1_0_1", "asymmetric_2_0_1_3", "int_1"])
def test_zero_padding_then_valid_strided_conv(check, case):
    """The MobileNetV2 / EfficientNet pattern: explicit padding before a stride-2 VALID conv."""
    inp = keras.Input((8, 8, 3), name="image")
    x = layers.ZeroPadding2D(PAD_CASES[case], name="pad")(inp)
    out = layers.Conv2D(4, 3, strides=2, padding="valid", name="conv")(x)
    check(keras.Model(inp, out))


def test_zero_padding_then_max_pool(check):
    """Padded zeros are real cells for the pool that follows: they can win a max over negatives."""
    inp = keras.Input((6, 6, 3), name="image")
    x = layers.Conv2D(3, 1, name="conv")(inp)
    x = layers.ZeroPadding2D(((0, 1), (1, 0)), name="pad")(x)
    out = layers.MaxPooling2D(3, strides=2, name="pool")(x)
    check(keras.Model(inp, out))


# ----------------------------------------------------------------------------- what is refused, and how

def export_cli(model, tmp_path):
    """Save the model and run `python -m export_tf` on it, as a user would."""
    path = str(tmp_path / "model.keras")
    randomize(model).save(path)
    return run_export(path, tmp_path / "bundle.npz", timeout=900)


def test_reshape_to_rank_4_is_refused_naming_the_layer(tmp_path):
    """Caffe blobs here are (N, C), (N, C, 1, L) or (N, C, H, W): a (N, A, B, C, D) tensor has no layout."""
    inp = keras.Input((4, 6, 2), name="image")
    x = layers.Reshape((2, 2, 6, 2), name="to_rank4")(inp)
    out = layers.Dense(3, name="fc")(x)
    proc = export_cli(keras.Model(inp, out), tmp_path)
    assert proc.returncode == 4, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Reshape" in proc.stderr and "(first: to_rank4)" in proc.stderr
    assert not os.path.exists(str(tmp_path / "bundle.npz"))


def test_reorder_over_the_slice_limit_is_refused_naming_the_layer(tmp_path):
    """Putting a 65x64 map's flattened values in TF order for a Concat needs more Slice tops than the
    converter writes: a clear refusal (exit 4) naming the consumer, not an internal error."""
    inp = keras.Input((65, 64, 2), name="image")
    vec = keras.Input((3,), name="features")
    x = layers.Concatenate(name="joined")([layers.Flatten(name="flat")(inp), vec])
    result = convert(randomize(keras.Model([inp, vec], x)), tmp_path)
    assert result.returncode == 4, result.describe()
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert "(first: joined)" in result.stderr and "4160 slices" in result.stderr
    assert result.report is None


def test_flatten_output_over_the_slice_limit_is_refused_naming_the_layer(tmp_path):
    inp = keras.Input((65, 64, 2), name="image")
    out = layers.Flatten(name="flat")(inp)
    result = convert(randomize(keras.Model(inp, out)), tmp_path)
    assert result.returncode == 4, result.describe()
    assert "internal error" not in result.stderr
    assert "as a model output" in result.stderr and "(first: flat)" in result.stderr


# ----------------------------------------------------------------------------- sequences and Permute

def test_reshapes_between_images_sequences_and_vectors(check):
    """Reshapes that keep the channel axis are plain Caffe Reshapes ((H, W, C) <-> (H*W, C)); the others
    move values between axes exactly (Slice + Concat); a flattened sequence feeds a Dense (kernel rows
    permuted) and is a model output (restored to TF order)."""
    inp = keras.Input((4, 3, 2), name="image")
    x = layers.Conv2D(5, 1, name="conv")(inp)                           # (4, 3, 5)
    seq = layers.Reshape((12, 5), name="to_sequence")(x)                # plain Reshape
    seq = layers.Conv1D(6, 3, padding="same", name="conv1d")(seq)       # (12, 6)
    flat = layers.Reshape((72,), name="seq_flat")(seq)                  # (L, C) -> (L*C,)
    vec = layers.Dense(10, name="fc")(flat)
    outs = [
        flat,
        layers.Reshape((1, 1, 10), name="to_1x1")(vec),                 # (C,) -> (1, 1, C)
        layers.Reshape((5, 2), name="vec_to_sequence")(vec),            # values move
        layers.Reshape((10, 1), name="vec_to_one_channel")(vec),
        layers.Reshape((8, 9), name="regroup_sequence")(seq),           # values move both ways
        layers.Conv2D(2, 3, name="conv_back")(layers.Reshape((4, 3, 6), name="seq_to_image")(seq)),
        layers.Reshape((3, 2, 12), name="seq_to_image_regroup")(seq),
        layers.Reshape((6, 10), name="image_to_sequence_regroup")(x),
    ]
    check(keras.Model(inp, outs))


def test_permute(check):
    """Caffe has no Permute: every axis order of an image and the transpose of a sequence, composed
    exactly with Slice + Concat + Reshape, each followed by a layer that reads the result."""
    inp = keras.Input((4, 3, 2), name="image")
    x = layers.Conv2D(5, 1, name="conv")(inp)                           # (4, 3, 5)
    seq = layers.Reshape((12, 5), name="to_sequence")(x)
    transposed = layers.Permute((2, 1), name="swap_sequence")(seq)      # (5, 12)
    outs = [
        layers.Permute((2, 1, 3), name="swap_hw")(x),
        layers.Permute((3, 1, 2), name="channels_first")(x),
        layers.Permute((1, 3, 2), name="swap_wc")(x),
        layers.Permute((3, 2, 1), name="reverse")(x),
        layers.Permute((2, 3, 1), name="channels_to_rows")(x),
        layers.Conv2D(2, 2, name="conv_after")(layers.Permute((2, 1, 3), name="swap_hw_conv")(x)),
        transposed,
        layers.Conv1D(3, 2, name="conv1d_after")(transposed),
    ]
    check(keras.Model(inp, outs))
