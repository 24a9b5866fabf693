"""make bench's recurrent models: every kind builds and runs in TF (tiny: 4 steps), and one goes through
the whole bench once (make, export, import, TF and Caffe forward passes), reported as unrolled with
Caffe's output within 1e-4 of TF's. No timing is asserted (a bench is not a test)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "bench"))

import make_model  # noqa: E402
import rnn  # noqa: E402


@pytest.mark.parametrize("kind", rnn.KINDS)
def test_recurrent_bench_model_builds_and_runs_in_tf(kind):
    model = make_model.build("%s_4" % kind, 0)
    out = model.predict_on_batch(np.zeros((2, 4, make_model.CHANNELS), np.float32))
    width = make_model.UNITS * (2 if kind == "bilstm" else 1)
    assert np.asarray(out).shape == (2, 4, width)


def test_recurrent_bench_runs_once(tmp_path):
    cmd = [sys.executable, os.path.join(ROOT, "bench", "run.py"), "--models", "lstm_hard", "--steps", "4",
           "--workdir", str(tmp_path)]
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.load(open(os.path.join(str(tmp_path), "results.json")))
    assert results["results"] == [] and len(results["recurrent"]) == 1
    row = results["recurrent"][0]
    assert row["status"] == "ok" and row["steps"] == 4 and "unrolled over 4 steps" in row["lowering"], row
    assert row["caffe_max_rel_vs_tf"] <= 1e-4 and row["caffe_ms"] > 0 and row["tf_ms"] > 0, row
    assert "| lstm_hard | 4 | unrolled |" in proc.stdout, proc.stdout
