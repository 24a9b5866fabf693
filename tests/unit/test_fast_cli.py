"""`python -m import_caffe` and `python -m export_tf` answer --help, bad arguments and a missing file
without importing numpy, Caffe, h5py, protobuf or TensorFlow (each costs from a fraction of a second to
several seconds): the heavy imports happen only once there is work to do. Checked on the modules loaded,
in a fresh interpreter, not on timing."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEAVY = ("numpy", "caffe", "h5py", "google.protobuf", "tensorflow", "keras", "tf_keras")

DRIVER = r"""
import json, runpy, sys
sys.argv = [sys.argv[1]] + sys.argv[2:]
code = 0
try:
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else 1
sys.stdout.flush()
sys.stderr.write("\n@@" + json.dumps({"code": code, "modules": sorted(sys.modules)}) + "\n")
"""


def run_cli(module, *args, **kwargs):
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-c", DRIVER, module] + list(args), cwd=kwargs.get("cwd", ROOT),
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=120)
    head, _, tail = proc.stderr.rpartition("\n@@")
    result = json.loads(tail)
    heavy = [m for m in result["modules"] if m.split(".")[0] in HEAVY or
             any(m == h or m.startswith(h + ".") for h in HEAVY)]
    return result["code"], proc.stdout, head, heavy


CASES = [
    ("import_caffe", ["--help"], 0),
    ("import_caffe", ["missing-bundle.npz", "-o", "out"], 2),
    ("import_caffe", ["--no-such-option"], 2),
    ("import_caffe", [], 2),
    ("import_caffe", ["tests", "-o", "out"], 2),             # a folder given as the bundle
    ("export_tf", ["--help"], 0),
    ("export_tf", ["missing-model.keras", "-o", "bundle.npz"], 2),
    ("export_tf", ["model.keras"], 2),                         # no -o
    ("export_tf", ["model.keras", "-o", "bundle.npz", "--batch", "x"], 2),
]


@pytest.mark.parametrize("module,args,code", CASES,
                         ids=["%s %s" % (m, " ".join(a) or "(no arguments)") for m, a, _ in CASES])
def test_cli_answers_without_heavy_imports(module, args, code):
    got, out, err, heavy = run_cli(module, *args)
    assert got == code, (out, err)
    assert out or err, "no message at all"
    assert heavy == [], "%s %s imported %s before it needed them" % (module, " ".join(args), ", ".join(heavy))
