"""The `tf2caffe` dispatcher: Python 3.8, imports neither TF nor Caffe itself, each side lazily, and a
missing side is a one-line message (run under both Pythons: each lacks the other side)."""
import ast
import importlib.util
import os

import pytest

from test_py38_compat import ROOT, imported_modules

from tf2caffe import cli

FILES = sorted(os.path.join("tf2caffe", f) for f in os.listdir(os.path.join(ROOT, "tf2caffe")) if f.endswith(".py"))


@pytest.mark.parametrize("rel", FILES)
def test_parses_as_python_38_and_imports_no_side(rel):
    with open(os.path.join(ROOT, rel)) as f:
        tree = ast.parse(f.read(), filename=rel, feature_version=(3, 8))
    tops = set(name.split(".")[0] for name in imported_modules(tree))
    assert not tops & {"tensorflow", "keras", "tf_keras", "caffe", "export_tf", "import_caffe", "numpy"}


def test_usage_and_unknown_commands(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all("  %s " % c in out for c in ("export", "import", "inspect"))
    assert cli.main([]) == 2
    assert cli.main(["convert"]) == 2
    assert "unknown command 'convert'" in capsys.readouterr().err
    assert cli.main(["inspect"]) == 2


@pytest.mark.parametrize("command, module, message", [
    ("export", "tensorflow", "tf2caffe export needs TensorFlow"),
    ("import", "caffe", "tf2caffe import needs pycaffe"),
])
def test_a_missing_side_says_what_it_needs(command, module, message, capsys):
    if importlib.util.find_spec(module) is not None:
        pytest.skip("%s is installed here" % module)
    assert cli.main([command, "model", "-o", "out"]) == 2
    assert message in capsys.readouterr().err


def test_inspect_reaches_import_caffe(capsys, tmp_path):
    missing = str(tmp_path / "none.npz")
    assert cli.main(["inspect", missing]) == 2      # import_caffe's own status for a missing file
    assert "no such file" in capsys.readouterr().err
