"""The command line as a user runs it: make targets, exit statuses, one-line errors, no partial files."""
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from keras import layers

from conftest import ROOT, import_bundle, randomize

PYTHON = sys.executable


def run(args, cwd=None):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run(args, cwd=cwd or ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=900)


def one_line_error(proc):
    lines = [l for l in proc.stderr.strip().splitlines() if l.strip()]
    assert "Traceback" not in proc.stderr, proc.stderr
    return lines[-1]


def tiny_model(path):
    inp = keras.Input((6, 6, 2), name="x")
    out = layers.Dense(3, name="y")(layers.Flatten()(layers.Conv2D(2, 3, name="c")(inp)))
    model = randomize(keras.Model(inp, out, name="tiny"))
    model.save(path)
    return path


def test_make_export_and_import_with_relative_paths(tmp_path):
    tiny_model(str(tmp_path / "tiny.keras"))
    proc = run(["make", "-s", "-f", os.path.join(ROOT, "Makefile"), "export", "MODEL=tiny.keras",
                "BUNDLE=tiny.npz"], cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    proc = run(["make", "-s", "-f", os.path.join(ROOT, "Makefile"), "import", "BUNDLE=tiny.npz",
                "OUT=converted"], cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "parity: OK" in proc.stdout
    assert sorted(os.listdir(str(tmp_path / "converted"))) == ["report.html", "report.json", "tiny.caffemodel",
                                                                   "tiny.prototxt"]
    proc = run(["make", "-s", "-f", os.path.join(ROOT, "Makefile"), "inspect", "BUNDLE=tiny.npz"],
               cwd=str(tmp_path))
    assert proc.returncode == 0 and "model:      tiny" in proc.stdout


@pytest.mark.parametrize("argv, status, message", [
    (["missing.keras", "-o", "b.npz"], 2, "no such file"),
    (["{tmp}", "-o", "b.npz"], 2, "is a directory"),
    (["{tmp}/model.txt", "-o", "b.npz"], 2, "unknown model format"),
    (["{tmp}/tiny.keras", "-o", "{tmp}/no/such/dir/b.npz"], 2, "does not exist"),
    (["{tmp}/tiny.keras", "-o", "{tmp}/b.zip"], 5, "must end in .npz or .h5"),
    (["{tmp}/garbage.keras", "-o", "{tmp}/b.npz"], 6, "could not load"),
], ids=["missing_model", "directory", "unknown_format", "missing_output_folder", "bad_bundle_suffix",
        "corrupt_model"])
def test_export_errors(tmp_path, argv, status, message):
    tiny_model(str(tmp_path / "tiny.keras"))
    (tmp_path / "model.txt").write_text("x")
    (tmp_path / "garbage.keras").write_bytes(b"not a zip")
    proc = run([PYTHON, "-m", "export_tf"] + [a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert proc.returncode == status, proc.stderr
    assert message in one_line_error(proc)
    assert not os.path.exists(str(tmp_path / "b.npz"))


def test_unsupported_layers_are_listed_together(tmp_path):
    inp = keras.Input((8, 8, 3), name="img")
    x = layers.Conv2D(4, 3, activation="log_softmax", name="conv_lsm")(inp)
    x = layers.Conv2D(4, 3, activation="log_softmax", name="conv_lsm2")(x)
    x = layers.UnitNormalization(name="un1")(x)
    x = layers.UnitNormalization(name="un2")(x)
    x = layers.UpSampling2D(interpolation="bicubic", name="up")(x)
    out = layers.Dense(2)(layers.GlobalAveragePooling2D()(x))
    path = str(tmp_path / "unsupported.keras")
    keras.Model(inp, out).save(path)
    proc = run([PYTHON, "-m", "export_tf", path, "-o", str(tmp_path / "b.npz")])
    assert proc.returncode == 4, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "5 unsupported layer(s) of 3 type(s)" in proc.stderr
    assert "UnitNormalization x2 (first: un1)" in proc.stderr
    assert "UpSampling2D [interpolation='bicubic'" in proc.stderr and "x1 (first: up)" in proc.stderr
    assert "Conv2D [activation 'log_softmax'" in proc.stderr and "x2 (first: conv_lsm)" in proc.stderr
    assert "supported:" in proc.stderr and "Conv2D" in proc.stderr.split("supported:")[-1]
    assert not os.path.exists(str(tmp_path / "b.npz"))


@pytest.fixture(scope="module")
def good_bundle(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundle")
    tiny_model(str(folder / "tiny.keras"))
    from export_tf.exporter import export
    export(str(folder / "tiny.keras"), str(folder / "tiny.npz"))
    return folder / "tiny.npz"


def test_import_errors_are_one_line(tmp_path):
    result = import_bundle(str(tmp_path / "missing.npz"), str(tmp_path / "out"))
    assert result.returncode == 2          # the README: a missing file is a usage error
    assert "no such file" in one_line_error(result)
    (tmp_path / "empty.npz").write_bytes(b"")
    result = import_bundle(str(tmp_path / "empty.npz"), str(tmp_path / "out"))
    assert result.returncode == 5 and "empty" in one_line_error(result)
    assert os.listdir(str(tmp_path / "out")) == []


def test_parity_failure_has_its_own_status_and_writes_no_model(tmp_path, good_bundle):
    from shared.bundle import read_bundle, write_bundle
    bundle = read_bundle(str(good_bundle))
    arrays = dict((k, np.array(v)) for k, v in bundle.arrays.items())
    key = bundle.manifest["reference"]["outputs"]["y"]
    arrays[key] = arrays[key] + 1.0                 # TF "said" something else
    manifest = dict(bundle.manifest)
    del manifest["arrays"]
    bad = str(tmp_path / "bad.npz")
    write_bundle(bad, manifest, arrays)
    out = str(tmp_path / "out")
    result = import_bundle(bad, out)
    assert result.returncode == 3, result.stderr
    assert "parity check failed" in one_line_error(result)
    assert sorted(os.listdir(out)) == ["report.html", "report.json"]
    assert result.report["summary"]["status"] == "inaccurate"
    assert result.report["summary"]["first_divergence"] == "y"


def test_failed_rerun_keeps_the_previous_good_output(tmp_path, good_bundle):
    out = str(tmp_path / "out")
    first = import_bundle(str(good_bundle), out)
    assert first.returncode == 0, first.stderr
    before = open(os.path.join(out, "tiny.caffemodel"), "rb").read()
    (tmp_path / "corrupt.npz").write_bytes(open(str(good_bundle), "rb").read()[:-100])
    second = import_bundle(str(tmp_path / "corrupt.npz"), out)
    assert second.returncode == 5
    assert open(os.path.join(out, "tiny.caffemodel"), "rb").read() == before
    assert not [n for n in os.listdir(out) if n.startswith(".")]


def test_inspect_needs_no_caffe(good_bundle):
    proc = run([PYTHON, "-m", "import_caffe", "--inspect", str(good_bundle)])
    assert proc.returncode == 0, proc.stderr
    assert "inputs:     x (6, 6, 2)" in proc.stdout
    assert "reference:  1 input(s), batch 2" in proc.stdout
