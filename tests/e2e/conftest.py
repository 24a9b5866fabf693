"""End-to-end helpers: build a Keras model, export it in-process, import it in the real Caffe
environment (a subprocess, exactly as `make import` runs it), and check the parity report."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
CAFFE_RUN = os.path.join(ROOT, "docker", "caffe-run")
PARITY_REL = 1e-4


class Result(object):
    def __init__(self, proc, bundle, out):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.bundle = bundle
        self.out = out
        path = os.path.join(out, "report.json")
        self.report = json.load(open(path)) if os.path.exists(path) else None

    def describe(self):
        lines = ["exit %d" % self.returncode, self.stderr.strip()[-2000:]]
        if self.report:
            for row in self.report["layers"]:
                if row["status"] != "ok":
                    lines.append("%s (%s) shape %s: own error rel %s, drift max abs %s, max rel %s (tolerance %s) "
                                 "-> %s, judged on %s %s" % (
                                     row["layer"], row["type"], row["shape"], row.get("own_rel"), row.get("max_abs"),
                                     row.get("max_rel"), row.get("drift_tolerance"), row["status"], row.get("judged"),
                                     row.get("error", "")))
        return "\n".join(lines)


def import_bundle(bundle, out, *args):
    """Run `python3 -m import_caffe` in the Caffe environment, as `make import` does."""
    cmd = [CAFFE_RUN, "--bind", os.path.dirname(os.path.abspath(bundle)), "--bind", os.path.abspath(out),
           "python3", "-m", "import_caffe", str(bundle), "-o", str(out), "-q"] + list(args)
    os.makedirs(out, exist_ok=True)
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=1800)
    return Result(proc, bundle, out)


def run_export(model_path, bundle, *args, timeout=600):
    """Run `python -m export_tf MODEL -o BUNDLE [args]` as a user would; returns the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "export_tf", str(model_path), "-o", str(bundle)] + list(args),
                          cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout)


def randomize(model, seed=0):
    """Non-trivial weights everywhere: random biases and betas, gammas around 1, and BatchNorm
    statistics far from (0, 1), so a dropped bias or a wrong normalisation shows."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            randomize(layer, seed + 1)
            continue
        for var in layer.weights:
            role = var.name.split("/")[-1].split(":")[0]
            shape = tuple(var.shape)
            if role in ("bias", "beta"):
                var.assign(rng.normal(0.0, 0.2, shape).astype("float32"))
            elif role == "gamma":
                var.assign(rng.uniform(0.5, 1.5, shape).astype("float32"))
            elif role in ("moving_mean", "mean"):       # BatchNormalization, Normalization
                var.assign(rng.normal(0.0, 0.5, shape).astype("float32"))
            elif role in ("moving_variance", "variance"):
                var.assign(rng.uniform(0.5, 2.0, shape).astype("float32"))
    return model


def convert(model, tmp_path, ext=".npz", batch=2, seed=0, save_as=".keras", activations=True, **kwargs):
    """Save, export (in-process) and import (Caffe subprocess) a model; returns a Result."""
    from export_tf.exporter import export
    model_path = os.path.join(str(tmp_path), "model" + save_as)
    model.save(model_path)
    bundle = os.path.join(str(tmp_path), "bundle" + ext)
    export(model_path, bundle, batch=batch, seed=seed, activations=activations, **kwargs)
    return import_bundle(bundle, os.path.join(str(tmp_path), "caffe"))


def assert_parity(result):
    """The conversion succeeded and every compared tensor matches within the parity bar: its lowering's own
    error (its Caffe layers on TF's values of its inputs) within PARITY_REL, or, where that was not measured,
    its end-to-end drift within its drift tolerance (import_caffe/tolerances.py)."""
    assert result.returncode == 0, result.describe()
    report = result.report
    assert report is not None, result.describe()
    assert report["summary"]["status"] == "ok", result.describe()
    rows = [r for r in report["layers"] if r["status"] != "not compared"]
    assert rows, "nothing was compared"
    for row in rows:
        assert row["status"] == "ok", result.describe()
        if row["judged"] == "own error":
            assert row["own_rel"] is not None and row["own_rel"] <= PARITY_REL, result.describe()
        else:
            assert row["max_rel"] is not None and row["max_rel"] <= row["drift_tolerance"], result.describe()
    for row in report["outputs"]:
        if "argmax_agree" in row:
            assert row["argmax_agree"] == row["argmax_total"], result.describe()
    for key in ("prototxt", "weights"):
        assert os.path.exists(os.path.join(result.out, report["files"][key]))
    return report


@pytest.fixture
def check(tmp_path):
    """check(model, **kwargs): randomize, convert and assert parity; returns the report."""
    def run(model, randomize_weights=True, **kwargs):
        if randomize_weights:
            randomize(model)
        return assert_parity(convert(model, tmp_path, **kwargs))
    return run


def caffe_layer_types(result):
    """The Caffe layer types of the generated prototxt (read as text, no caffe needed)."""
    text = open(os.path.join(result.out, result.report["files"]["prototxt"])).read()
    return [line.split('"')[1] for line in text.splitlines() if line.strip().startswith("type:")]


sys.path.insert(0, ROOT)
