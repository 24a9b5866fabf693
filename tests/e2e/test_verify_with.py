"""--verify-with (issue 16): the import runs the written files in another runtime after the Caffe check and
judges what it computed. A runtime registered by tests/e2e/fake_runtime.py (pycaffe itself, then made to
misbehave) shows the framework's verdicts: agreeing passes (status 0), a blob off by 1e-3 of its range or
a runtime that cannot load the net or crashes fails with status 3 naming the runtime (no model files unless
--keep-on-failure), and a runtime that is not installed is refused before anything is converted (status 2).
OpenCV itself runs through `make import IMPORT_ARGS="--verify-with opencv"`, which also picks its target;
tests/e2e/test_runtime_targets.py holds the runtimes' acceptance models."""
import json
import os
import subprocess

import pytest

from conftest import CAFFE_RUN, ROOT

FAKE = os.path.join(ROOT, "tests", "e2e", "fake_runtime.py")
MAKEFILE = os.path.join(ROOT, "Makefile")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    import keras
    from keras import layers
    from conftest import randomize
    from export_tf.exporter import export
    folder = tmp_path_factory.mktemp("verify_with")
    inp = keras.Input((8, 8, 3), name="x")
    x = layers.Conv2D(4, 3, activation="relu", name="c")(inp)
    x = layers.Dense(5, name="y")(layers.Flatten()(layers.MaxPooling2D(name="p")(x)))
    path = str(folder / "tiny.keras")
    randomize(keras.Model(inp, x, name="tiny")).save(path)
    out = str(folder / "tiny.npz")
    export(path, out, batch=2, seed=0, activations=True)
    return out


class Run(object):
    def __init__(self, proc, out):
        self.returncode, self.stdout, self.stderr, self.out = proc.returncode, proc.stdout, proc.stderr, out
        path = os.path.join(out, "report.json")
        self.report = json.load(open(path)) if os.path.exists(path) else None
        self.files = sorted(os.listdir(out)) if os.path.isdir(out) else []

    def section(self):
        return self.report["runtimes"][0]


def fake(mode, bundle, out, *args):
    os.makedirs(out)
    proc = subprocess.run([CAFFE_RUN, "--bind", os.path.dirname(bundle), "--bind", out, "env", "GLOG_minloglevel=2",
                           "python3", FAKE, mode, bundle, "-o", out, "-q", "--verify-with", "fake"] + list(args),
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=600)
    return Run(proc, out)


def test_a_runtime_that_agrees_passes_and_its_section_says_so(bundle, tmp_path):
    run = fake("same", bundle, str(tmp_path / "out"))
    assert run.returncode == 0, run.stderr
    s = run.section()
    assert (s["name"], s["status"], s["runtime"], s["target"], s["net_target"]) == (
        "fake", "ok", "fake runtime 0.1 (same)", "opencv", "opencv")       # --target auto took the runtime's
    assert s["blobs_compared"] >= 4 and s["worst"]["max_rel"] == 0.0, s
    assert [o["output"] for o in s["outputs"]] == ["y"] and s["outputs"][0]["vs_tf_rel"] < 1e-4, s
    assert "runtime fake (fake runtime 0.1 (same)): %d blobs compared with Caffe's" % s["blobs_compared"] in run.stdout
    assert "then run in fake (ok)" in run.stdout
    html = open(os.path.join(run.out, "report.html")).read()
    assert "Other runtimes (--verify-with)" in html and "fake runtime 0.1 (same)" in html
    assert "tiny.prototxt" in run.files and "tiny.caffemodel" in run.files


@pytest.mark.parametrize("mode, says", [
    ("inner", "differs from Caffe's: 1.00e-03 of its range, over the 1e-04 tolerance (1 blob(s) disagree)"),
    ("output", "differs from Caffe's: 1.00e-03 of its range, over the 1e-04 tolerance"),
    ("broken", "the fake runtime cannot load tiny.prototxt"),
    ("crash", "the run crashed (signal 6)"),
], ids=["inner_blob_off", "output_off", "cannot_load", "crashes"])
def test_a_runtime_that_disagrees_or_fails_exits_3_and_publishes_no_model(bundle, tmp_path, mode, says):
    run = fake(mode, bundle, str(tmp_path / "out"))
    assert run.returncode == 3, run.stderr
    assert "parity check failed for --verify-with fake (fake runtime 0.1 (%s)): " % mode in run.stderr, run.stderr
    assert says in run.stderr and "Caffe's own check passed" in run.stderr, run.stderr
    assert run.files == ["report.html", "report.json"]
    s = run.section()
    assert s["status"] == "failed" and run.report["summary"]["status"] == "ok"     # Caffe itself passed
    assert "parity: FAILED" in run.stdout and "then run in fake (failed)" in run.stdout
    if mode == "output":
        assert s["outputs"][0]["status"] != "ok" and s["outputs"][0]["vs_tf_rel"] > 1e-4, s


def test_keep_on_failure_keeps_the_files_named_as_failed(bundle, tmp_path):
    run = fake("inner", bundle, str(tmp_path / "out"), "--keep-on-failure")
    assert run.returncode == 3, run.stderr
    assert run.files == ["report.html", "report.json", "tiny.failed-verification.caffemodel",
                         "tiny.failed-verification.prototxt"], run.files


def test_a_runtime_that_is_not_installed_is_refused_before_converting(bundle, tmp_path):
    run = fake("missing", bundle, str(tmp_path / "out"))
    assert run.returncode == 2, run.stderr
    assert "--verify-with fake: the fake runtime is not installed; make setup installs it" in run.stderr
    assert run.files == [] and "reading" not in run.stderr


def test_an_unknown_runtime_is_refused_naming_the_known_ones(bundle, tmp_path):
    run = fake("same", bundle, str(tmp_path / "out"), "--verify-with", "nosuch")
    assert run.returncode == 2 and "--verify-with: no runtime 'nosuch' (known: " in run.stderr, run.stderr


def test_make_import_verifies_with_opencv_on_its_target(bundle, tmp_path):
    out = str(tmp_path / "made")
    env = dict((k, v) for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"))
    proc = subprocess.run(["make", "-s", "-f", MAKEFILE, "import", "BUNDLE=" + bundle, "OUT=" + out,
                           "IMPORT_ARGS=--verify-with opencv -q"], cwd=str(tmp_path), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.load(open(os.path.join(out, "report.json")))
    s = report["runtimes"][0]
    assert report["target"] == "opencv" and s["name"] == "opencv" and s["status"] == "ok", s
    assert s["runtime"].startswith("OpenCV dnn 4.11.0") and s["blobs_compared"] >= 4, s
    assert s["worst"]["max_rel"] <= 1e-4 and s["outputs"][0]["vs_tf_rel"] <= 1e-4, s
    assert "runtime opencv (OpenCV dnn 4.11.0): " in proc.stdout and "then run in opencv (ok)" in proc.stdout
