"""Weights over protobuf's 2 GB limit go to Caffe's HDF5 format (.caffemodel.h5). A multi-GB model is
too big for the test suite (`make bench` converts one), so TF2CAFFE_HDF5_THRESHOLD lowers the switch and
a small model takes the same path: written, announced, loaded back by Caffe and verified layer by layer
like any other. Its helper layers with weights ('<layer>/scale') are renamed for that format, which
cannot hold '/' in a layer name."""
import os
import subprocess

import h5py
import keras
import numpy as np
from keras import layers

from conftest import CAFFE_RUN, ROOT, Result, assert_parity, randomize


def model_with_helper_layers():
    inp = keras.Input((9, 9, 3), name="image")
    x = layers.Conv2D(6, 3, padding="same", name="conv")(inp)
    x = layers.BatchNormalization(name="bn")(x)                      # BatchNorm + Scale 'bn/scale'
    x = layers.ReLU(name="relu")(x)
    x = layers.AveragePooling2D(3, strides=2, padding="same", name="pool")(x)   # divisor-correcting Scale
    x = layers.Flatten(name="flat")(x)
    x = layers.Dense(7, activation="softmax", name="probs")(x)
    return randomize(keras.Model(inp, x, name="scale_h5"))


def test_weights_over_the_threshold_are_written_and_verified_as_hdf5(tmp_path):
    from export_tf.exporter import export
    model_path = str(tmp_path / "model.keras")
    model_with_helper_layers().save(model_path)
    bundle = str(tmp_path / "bundle.npz")
    export(model_path, bundle)
    out = str(tmp_path / "caffe")
    os.makedirs(out)
    proc = subprocess.run([CAFFE_RUN, "--bind", str(tmp_path), "env", "TF2CAFFE_HDF5_THRESHOLD=1000",
                           "TF2CAFFE_TIMINGS=1", "python3", "-m", "import_caffe", bundle, "-o", out],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=600)
    result = Result(proc, bundle, out)
    report = assert_parity(result)
    assert report["files"]["weights"] == "scale_h5.caffemodel.h5"
    assert "writing them in Caffe's HDF5 format" in proc.stderr, proc.stderr
    assert "wrote %s" % os.path.join(out, "scale_h5.caffemodel.h5") in proc.stdout
    # the forked Caffe child reports its phases too
    assert "timing: loading the weights in Caffe" in proc.stderr, proc.stderr
    prototxt = open(os.path.join(out, "scale_h5.prototxt")).read()
    with h5py.File(os.path.join(out, "scale_h5.caffemodel.h5"), "r") as f:
        names = sorted(f["data"])
        assert "bn.scale" in names and not any("/" in n for n in names), names
        for name in names:
            assert 'name: "%s"' % name in prototxt, name
        weights = f["data"]["conv"]["0"][()]
    kernel = keras.saving.load_model(model_path).get_layer("conv").get_weights()[0]
    np.testing.assert_array_equal(weights, kernel.transpose(3, 2, 0, 1))
    # the renamed helper layers are named in the report, under their TF layer
    bn_row = [r for r in report["layers"] if r["layer"] == "bn"][0]
    assert bn_row["caffe_layers"] == ["bn", "bn.scale"], bn_row


def test_below_the_threshold_the_weights_stay_a_caffemodel(tmp_path):
    """The default switch is protobuf's limit; and the stock .caffemodel keeps '/' helper names."""
    from conftest import convert
    result = convert(model_with_helper_layers(), tmp_path)
    report = assert_parity(result)
    assert report["files"]["weights"] == "scale_h5.caffemodel"
    bn_row = [r for r in report["layers"] if r["layer"] == "bn"][0]
    assert bn_row["caffe_layers"] == ["bn", "bn/scale"], bn_row
