"""`make export/import/inspect`, ./tf2caffe.sh and the `tf2caffe` command with hostile path names (issue 18):
a name holding backticks, $(...), make's $(shell ...), ${...}, quotes, spaces, ';', globbing characters, a
leading dash or a newline is a plain path, and nothing in it runs. make names the tool's own exit status
(make itself exits 2 for any failure); ./tf2caffe.sh exits with it (README: exit statuses).

One tiny model is exported once (through `make export`, with hostile names) and reused."""
import os
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT

MAKEFILE = os.path.join(ROOT, "Makefile")
WRAPPER = os.path.join(ROOT, "tf2caffe.sh")
CAFFE_RUN = os.path.join(ROOT, "docker", "caffe-run")
MARK = "PWNED"
# Every way a name could run code if a shell or make parsed it, and a leading dash.
EVIL = "-n `touch PWNED` $(touch PWNED) $(shell touch PWNED) ${HOME} 'q' \"d\" ;touch PWNED;|&<>*?[a] #%\\ x"
MODEL, BUNDLE = EVIL + ".keras", EVIL + ".npz"
REFS, LABELS = "refs " + EVIL + ".npy", "labels " + EVIL + ".npy"


def run(args, cwd):
    env = dict((k, v) for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"))
    env.update(TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)     # not a relative PYTHONPATH=. (the current folder)
    return subprocess.run(args, cwd=str(cwd), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=600)


def make(target, cwd, **variables):
    """`make -s -f ROOT/Makefile TARGET VAR=value...` run in cwd, as a user in their own folder."""
    return run(["make", "-s", "-f", MAKEFILE, target] + ["%s=%s" % kv for kv in sorted(variables.items())], cwd)


def made_status(proc):
    """The tool's status as the make recipe names it (make's own status is 2 for any failure)."""
    if proc.returncode == 0:
        return 0
    assert proc.returncode == 2, proc.stderr
    for line in proc.stderr.splitlines():
        if "tf2caffe exited with status " in line:
            return int(line.split("tf2caffe exited with status ")[1].split()[0])
    raise AssertionError("no status line: " + proc.stderr)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return tmp_path_factory.mktemp("paths")


@pytest.fixture(autouse=True)
def nothing_ran(base):
    """After every test: no command hidden in a name ran, here or in the project folder."""
    yield
    found = [os.path.join(d, f) for d, _, files in os.walk(str(base)) for f in files if f == MARK]
    found += [p for p in (os.path.join(ROOT, MARK), os.path.join(os.getcwd(), MARK)) if os.path.exists(p)]
    assert not found, found


@pytest.fixture(scope="module")
def place(base):
    """A folder with a hostile name holding a tiny Keras model, reference inputs and labels, all with
    hostile names."""
    import keras
    from keras import layers
    from conftest import randomize
    folder = base / ("-dir " + EVIL)
    folder.mkdir()
    inp = keras.Input((6, 6, 2), name="x")
    out = layers.Dense(3, name="y")(layers.Flatten()(layers.Conv2D(2, 3, name="c")(inp)))
    randomize(keras.Model(inp, out, name="tiny")).save(str(folder / MODEL))
    np.save(str(folder / REFS), np.random.default_rng(0).normal(size=(2, 6, 6, 2)).astype("float32"))
    np.save(str(folder / LABELS), np.array([0, 2]))
    return folder


@pytest.fixture(scope="module")
def exported(place):
    return make("export", place, MODEL=MODEL, BUNDLE=BUNDLE,
                EXPORT_ARGS="--reference-inputs %s -q" % shlex.quote(REFS))


@pytest.fixture(scope="module")
def bundle(place, exported):
    assert exported.returncode == 0, exported.stderr
    return place / BUNDLE


def test_make_export_takes_the_names_literally(place, exported):
    assert exported.returncode == 0, exported.stderr
    assert sorted(os.listdir(str(place))) == sorted([MODEL, BUNDLE, REFS, LABELS])


def test_make_import_and_inspect_take_the_names_literally(place, bundle):
    out = "out " + EVIL
    proc = make("import", place, BUNDLE=BUNDLE, OUT=out, IMPORT_ARGS="--labels %s -q" % shlex.quote(LABELS))
    assert proc.returncode == 0, proc.stderr
    assert "parity: OK" in proc.stdout and "accuracy" in proc.stdout
    assert sorted(os.listdir(str(place / out))) == ["report.html", "report.json", "tiny.caffemodel",
                                                    "tiny.prototxt"]
    proc = make("inspect", place, BUNDLE=BUNDLE)
    assert proc.returncode == 0, proc.stderr
    assert "model:      tiny" in proc.stdout


def test_relative_folders_with_a_leading_dash(place, bundle):
    """The bundle's folder and OUT are mounted into the Caffe root filesystem by relative names that
    start with '-' and hold everything else too."""
    sub = place / ("-sub " + EVIL)
    sub.mkdir()
    shutil.copy(str(bundle), str(sub / "b.npz"))
    out = os.path.join("-out " + EVIL, "o")
    proc = make("import", place, BUNDLE=os.path.join(sub.name, "b.npz"), OUT=out, IMPORT_ARGS="-q")
    assert proc.returncode == 0, proc.stderr
    assert "tiny.caffemodel" in os.listdir(str(place / out))


@pytest.fixture(scope="module")
def broken(place, bundle):
    """A truncated bundle (malformed: 5) and one whose TF outputs were changed (parity failure: 3)."""
    from shared.bundle import read_bundle, write_bundle
    data = open(str(bundle), "rb").read()
    (place / ("bad " + BUNDLE)).write_bytes(data[:len(data) // 2])
    good = read_bundle(str(bundle))
    arrays = dict((k, np.array(v)) for k, v in good.arrays.items())
    key = good.manifest["reference"]["outputs"]["y"]
    arrays[key] = arrays[key] + 1.0
    manifest = dict(good.manifest)
    del manifest["arrays"]
    write_bundle(str(place / ("parity " + BUNDLE)), manifest, arrays)
    return {"good": BUNDLE, "bad": "bad " + BUNDLE, "parity": "parity " + BUNDLE, "missing": "missing " + BUNDLE}


@pytest.mark.parametrize("command, which, status", [
    ("import", "good", 0), ("import", "missing", 2), ("import", "bad", 5), ("import", "parity", 3),
    ("inspect", "good", 0), ("inspect", "missing", 2), ("inspect", "bad", 5),
])
def test_statuses(place, broken, command, which, status):
    """make names the tool's status on stderr; ./tf2caffe.sh exits with it, for scripts."""
    name = broken[which]
    out = "st %s %s" % (command, which)
    variables = dict(BUNDLE=name, OUT=out, IMPORT_ARGS="-q") if command == "import" else dict(BUNDLE=name)
    proc = make(command, place, **variables)
    assert made_status(proc) == status, proc.stderr
    if status:
        assert "Traceback" not in proc.stderr
        assert "make %s: tf2caffe exited with status %d (" % (command, status) in proc.stderr
    argv = [WRAPPER, command] + (["-o", out + " (script)", "-q"] if command == "import" else []) + ["--", name]
    proc = run(argv, place)
    assert proc.returncode == status, proc.stderr


def test_usage_errors(place):
    proc = make("import", place, BUNDLE=BUNDLE)
    assert proc.returncode == 2 and "usage: make import BUNDLE=model.npz OUT=dir" in proc.stderr
    proc = make("export", place, MODEL=MODEL)
    assert proc.returncode == 2 and "usage: make export" in proc.stderr
    proc = make("inspect", place)
    assert proc.returncode == 2 and "usage: make inspect" in proc.stderr


def test_args_are_words_and_never_code(place, bundle):
    """*_ARGS are split like a shell splits words (quotes, backslashes) and nothing more."""
    proc = make("import", place, BUNDLE=BUNDLE, OUT="args1", IMPORT_ARGS="-q $(touch PWNED) `touch PWNED` ;touch PWNED")
    assert made_status(proc) == 2 and "unrecognized arguments" in proc.stderr, proc.stderr
    proc = make("import", place, BUNDLE=BUNDLE, OUT="args2", IMPORT_ARGS="--labels 'unclosed -q")
    assert proc.returncode == 2 and "make: IMPORT_ARGS: No closing quotation" in proc.stderr
    assert not os.path.exists(str(place / "args2"))       # nothing ran
    shutil.copy(str(place / LABELS), str(place / "my labels.npy"))
    proc = make("import", place, BUNDLE=BUNDLE, OUT="args3", IMPORT_ARGS='-q --labels "my labels.npy"')
    assert proc.returncode == 0 and "accuracy" in proc.stdout, proc.stderr
    proc = make("import", place, BUNDLE=BUNDLE, OUT="args4", IMPORT_ARGS="-q --labels my\\ labels.npy")
    assert proc.returncode == 0 and "accuracy" in proc.stdout, proc.stderr


def test_newlines(place, bundle):
    """A bundle named with a newline converts; a folder so named cannot be mounted into the Caffe root
    filesystem (one folder a line) and is refused cleanly; inspect needs no mount."""
    shutil.copy(str(bundle), str(place / "new\nline.npz"))
    proc = make("import", place, BUNDLE="new\nline.npz", OUT="nl1", IMPORT_ARGS="-q")
    assert proc.returncode == 0, proc.stderr
    folder = place / "folder\nwith a newline"
    folder.mkdir()
    shutil.copy(str(bundle), str(folder / "b.npz"))
    proc = make("import", place, BUNDLE=os.path.join(folder.name, "b.npz"), OUT="nl2")
    assert made_status(proc) == 2
    assert "caffe-run: cannot mount a folder whose name holds a newline" in proc.stderr
    proc = make("inspect", place, BUNDLE=os.path.join(folder.name, "b.npz"))
    assert proc.returncode == 0, proc.stderr


def test_the_tf2caffe_command_takes_a_leading_dash_after_double_dash_or_dot_slash(place, bundle):
    """The documented forms: `tf2caffe inspect -- -name`, `tf2caffe inspect ./-name`, and options before
    `--` for import and export."""
    env_cmd = [sys.executable, "-c", "import sys; sys.path.insert(0, %r); from tf2caffe.cli import main; "
                                     "sys.exit(main(sys.argv[1:]))" % ROOT]
    for argv in (["inspect", "--", BUNDLE], ["inspect", "./" + BUNDLE]):
        for cmd in (env_cmd, [WRAPPER]):
            proc = run(cmd + argv, place)
            assert proc.returncode == 0 and "model:      tiny" in proc.stdout, (cmd, proc.stderr)
    # the installed command's import under the Caffe environment's own Python 3.9 argparse
    proc = run([CAFFE_RUN, "python3", "-m", "tf2caffe", "import", "-q", "-o", "cmd1", "--", BUNDLE], place)
    assert proc.returncode == 0, proc.stderr
    proc = run([WRAPPER, "import", "./" + BUNDLE, "-o", "./-cmd2 " + EVIL, "-q"], place)
    assert proc.returncode == 0, proc.stderr
    assert "tiny.caffemodel" in os.listdir(str(place / ("-cmd2 " + EVIL)))
    proc = run([WRAPPER, "export", "./" + MODEL, "-o", "./-again " + BUNDLE, "-q"], place)
    assert proc.returncode == 0, proc.stderr
    assert os.path.exists(str(place / ("-again " + BUNDLE)))


def test_modules_in_the_current_folder_do_not_run(base, bundle):
    """A folder of received files may hold Python files named like the converter's or Python's modules:
    the commands never import them."""
    folder = base / "shadowing"
    folder.mkdir()
    for name in ("shlex", "numpy", "shared", "import_caffe", "tf2caffe", "importlib", "sitecustomize", "caffe"):
        (folder / (name + ".py")).write_text("open(%r, 'w')\n" % str(folder / MARK))
    shutil.copy(str(bundle), str(folder / "b.npz"))
    proc = make("import", folder, BUNDLE="b.npz", OUT="o", IMPORT_ARGS="-q")
    assert proc.returncode == 0, proc.stderr
    proc = make("inspect", folder, BUNDLE="b.npz")
    assert proc.returncode == 0, proc.stderr
