"""`pip install .` gives a working `tf2caffe` command, and the import side needs no TensorFlow.

The package is built from a copy of the source (so nothing is written into the work tree), installed
offline (--no-deps --no-build-isolation) into a fresh venv and, with --target, into a folder that the
Caffe environment's Python 3.9 then runs from: inspect and import of a small bundle, no project tree on
its path, no TensorFlow anywhere.
"""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import CAFFE_RUN, ROOT, randomize

SOURCES = ("pyproject.toml", "README.md", "tf2caffe", "shared", "export_tf", "import_caffe")


def _run(cmd, **kwargs):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=600, **kwargs)
    return proc


def _packages(top):
    return sorted(os.path.relpath(d, str(top)) for d, _, files in os.walk(str(top))
                  if "__init__.py" in files and "__pycache__" not in d)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("packaging")
    src = tmp / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        path = os.path.join(ROOT, name)
        if os.path.isdir(path):
            shutil.copytree(path, str(src / name), ignore=ignore)
        else:
            shutil.copy(path, str(src / name))
    source_packages = _packages(src)
    # build the wheel with this environment's setuptools + wheel (offline), as `pip install .` would; the
    # TF environment has both (pinned tensorflow-cpu requires setuptools, its astunparse requires wheel)
    dist = tmp / "dist"
    proc = _run([sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--no-index",
                 "--no-deps", "--no-build-isolation", "-w", str(dist), str(src)], cwd=str(tmp))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wheels = [str(p) for p in dist.iterdir() if p.name.endswith("-py3-none-any.whl")]
    assert len(wheels) == 1, list(dist.iterdir())
    venv = tmp / "venv"
    proc = _run([sys.executable, "-m", "venv", str(venv)])
    assert proc.returncode == 0, proc.stderr
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
           "--no-index", "--no-deps"]
    proc = _run(pip + wheels, cwd=str(tmp))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    target = tmp / "target"
    proc = _run(pip + ["--target", str(target)] + wheels, cwd=str(tmp))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # every package of the source is in the install (handlers, graph front end...)
    assert _packages(target) == source_packages
    return tmp, venv, target


def test_the_command_is_installed_and_dispatches(installed):
    tmp, venv, _ = installed
    exe = str(venv / "bin" / "tf2caffe")
    proc = _run([exe, "--help"], cwd=str(tmp))
    assert proc.returncode == 0, proc.stderr
    for command in ("export", "import", "inspect"):
        assert "  %s " % command in proc.stdout
    proc = _run([exe, "import", "--help"], cwd=str(tmp))
    assert proc.returncode == 0 and "--output" in proc.stdout, proc.stderr
    # this venv has neither TensorFlow nor Caffe: both sides say what they need, in one line
    for command, needed in (("export", "TensorFlow"), ("import", "pycaffe")):
        proc = _run([exe, command, "x", "-o", "y"], cwd=str(tmp))
        assert proc.returncode == 2 and needed in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    proc = _run([exe, "frobnicate"], cwd=str(tmp))
    assert proc.returncode == 2 and "unknown command" in proc.stderr


def test_tensorflow_is_only_an_extra(installed):
    _, venv, _ = installed
    meta = _run([str(venv / "bin" / "python"), "-c",
                 "import importlib.metadata as m; print('\\n'.join(m.requires('tf2caffe')))"])
    assert meta.returncode == 0, meta.stderr
    for req in meta.stdout.splitlines():
        if "tensorflow" in req.lower() or "keras" in req.lower():
            assert 'extra == "tf"' in req, req


@pytest.fixture(scope="module")
def small_bundle(installed):
    import keras
    from export_tf.exporter import export
    tmp = installed[0]
    inp = keras.Input((6, 6, 2), name="image")
    x = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(inp)
    x = keras.layers.Flatten(name="flat")(x)
    out = keras.layers.Dense(4, name="logits")(x)
    model = randomize(keras.Model(inp, out, name="tiny"))
    model.save(str(tmp / "tiny.keras"))
    bundle = str(tmp / "tiny.npz")
    export(str(tmp / "tiny.keras"), bundle, batch=2, seed=0)
    return bundle


def _caffe_cmd(tmp, target, *args):
    # the installed files only: PYTHONPATH is the --target folder, not the project tree
    return [CAFFE_RUN, "--bind", str(tmp), "env", "PYTHONPATH=%s" % target, "python3",
            str(target / "bin" / "tf2caffe")] + list(args)


def test_installed_command_runs_in_the_caffe_environment(installed, small_bundle):
    tmp, _, target = installed
    proc = _run(_caffe_cmd(tmp, target, "inspect", small_bundle), cwd=str(tmp))
    assert proc.returncode == 0, proc.stderr
    for field in ("model:", "producer:", "inputs:", "outputs:", "layers:", "parameters:", "reference:",
                  "activations: present for 2 of 2"):
        assert field in proc.stdout
    assert "Conv2D x1" in proc.stdout and "image (6, 6, 2)" in proc.stdout
    out = tmp / "out"
    proc = _run(_caffe_cmd(tmp, target, "import", small_bundle, "-o", str(out), "-q"), cwd=str(tmp))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "parity: OK" in proc.stdout
    # it really ran from the install, not from the project tree
    where = _run([CAFFE_RUN, "--bind", str(tmp), "env", "PYTHONPATH=%s" % target, "python3", "-c",
                  "import import_caffe, tf2caffe; print(import_caffe.__file__); print(tf2caffe.__file__)"],
                 cwd=str(tmp))
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(target)) for line in where.stdout.split()), where.stdout
    assert os.path.exists(str(out / "tiny.prototxt")) and os.path.exists(str(out / "report.json"))
