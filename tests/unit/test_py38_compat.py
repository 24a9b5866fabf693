"""The Caffe side runs on an old Python: every module under import_caffe/, shared/ and tf2caffe/ (the
command, installed beside Caffe too) must parse as Python 3.8 and must not import TensorFlow or Keras
(the Caffe environment has neither)."""
import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGES = ("import_caffe", "shared", "tf2caffe")
FORBIDDEN = ("tensorflow", "keras", "tf_keras")


def python_files():
    found = []
    for package in PACKAGES:
        for folder, dirs, files in os.walk(os.path.join(ROOT, package)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            found += [os.path.relpath(os.path.join(folder, f), ROOT) for f in sorted(files) if f.endswith(".py")]
    return found


FILES = python_files()


def read(rel):
    with open(os.path.join(ROOT, rel), "rb") as f:
        return f.read().decode("utf-8")


def imported_modules(tree):
    """Absolute module names imported anywhere in the tree (import x.y, from x.y import z, and
    importlib.import_module / __import__ with a literal name)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            first = node.args[0]
            literal = getattr(first, "value", getattr(first, "s", None))
            if called in ("import_module", "__import__") and isinstance(literal, str):
                names.append(literal)
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_the_package_is_found(package):
    assert os.path.join(package, "__init__.py") in FILES


@pytest.mark.parametrize("rel", FILES)
def test_parses_as_python_38(rel):
    ast.parse(read(rel), filename=rel, feature_version=(3, 8))


@pytest.mark.parametrize("rel", FILES)
def test_imports_neither_tensorflow_nor_keras(rel):
    tree = ast.parse(read(rel), filename=rel)
    offending = [name for name in imported_modules(tree) if name.split(".")[0] in FORBIDDEN]
    assert offending == []


@pytest.mark.parametrize("source, expected", [
    pytest.param("import tensorflow as tf", ["tensorflow"], id="import"),
    pytest.param("from keras.layers import Dense", ["keras.layers"], id="from-import"),
    pytest.param("def f():\n    import tensorflow.keras\n", ["tensorflow.keras"], id="inside-a-function"),
    pytest.param("import importlib\nimportlib.import_module('keras')", ["importlib", "keras"], id="import_module"),
    pytest.param("__import__('tensorflow')", ["tensorflow"], id="dunder-import"),
    pytest.param("from . import layout", [], id="relative-import-ignored"),
])
def test_imported_modules_finds_every_kind_of_import(source, expected):
    assert imported_modules(ast.parse(source)) == expected


@pytest.mark.parametrize("source", [
    pytest.param("if (n := 3):\n    pass\n", id="walrus-is-3.8"),
    pytest.param("def f(a, /, b):\n    pass\n", id="positional-only-is-3.8"),
])
def test_feature_version_accepts_python_38_syntax(source):
    ast.parse(source, feature_version=(3, 8))


@pytest.mark.parametrize("source", [
    pytest.param("match x:\n    case 1:\n        pass\n", id="match-is-3.10"),
    pytest.param("try:\n    pass\nexcept* ValueError:\n    pass\n", id="except-star-is-3.11"),
])
def test_feature_version_refuses_newer_syntax(source):
    with pytest.raises(SyntaxError):
        ast.parse(source, feature_version=(3, 8))
