"""The manifest as the importer meets it, end to end in the Caffe environment: a bundle of format
version 1 (attributes with defaults left out, as bundles were written before the op spec) still
converts with parity; a version-2 bundle with one attribute deleted from a node is refused with status 5,
naming the node and the field, for a node of every op the test model has."""
import json
import os
import zipfile

import numpy as np
import pytest

from conftest import assert_parity, import_bundle, randomize
from shared import opspec
from shared.opspec.fields import REQUIRED

MANIFEST = "manifest.json"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """A small model whose nodes span conv (fused relu), batch norm, pooling, activation, merge, concat,
    reshape and dense ops."""
    import keras
    from export_tf.exporter import export
    x = keras.Input((12, 12, 3), name="image")
    a = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv")(x)
    b = keras.layers.BatchNormalization(name="bn")(a)
    c = keras.layers.MaxPooling2D(2, name="pool")(b)
    d = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(c)
    e = keras.layers.Add(name="add")([c, d])
    f = keras.layers.Concatenate(name="cat")([e, c])
    g = keras.layers.Activation("elu", name="elu")(f)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(g)
    y = keras.layers.Dense(5, activation="softmax", name="dense")(h)
    model = randomize(keras.Model(x, y))
    folder = tmp_path_factory.mktemp("spec")
    model.save(str(folder / "model.keras"))
    path = str(folder / "bundle.npz")
    export(str(folder / "model.keras"), path, batch=2)
    return path


def rewritten(path, target, change):
    """A copy of the npz bundle at `path` with its manifest passed through change(manifest)."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == MANIFEST:
                manifest = json.loads(data.decode("utf-8"))
                change(manifest)
                data = json.dumps(manifest).encode("utf-8")
            dst.writestr(info.filename, data)
    return target


def as_version_1(manifest):
    """Version 1 wrote only what the handlers set: drop every attribute equal to its spec default."""
    manifest["format_version"] = 1
    dropped = 0
    for node in manifest["nodes"]:
        spec = opspec.spec_for(node["op"])
        for key, field in spec.fields(node["attrs"]).items():
            if field.default is not REQUIRED and node["attrs"][key] == field.default:
                del node["attrs"][key]
                dropped += 1
    assert dropped, "the test model has no attribute at its default"


def test_a_version_1_bundle_converts_with_parity(bundle, tmp_path):
    old = rewritten(bundle, str(tmp_path / "v1.npz"), as_version_1)
    assert_parity(import_bundle(old, str(tmp_path / "out")))


def node_attributes(path):
    with zipfile.ZipFile(path) as z:
        manifest = json.loads(z.read(MANIFEST).decode("utf-8"))
    seen, cases = set(), []
    for node in manifest["nodes"]:
        if node["op"] not in seen and node["attrs"]:
            seen.add(node["op"])
            cases.append((node["name"], sorted(node["attrs"])[0]))
    return cases


def test_deleting_an_attribute_is_refused_with_status_5_naming_node_and_field(bundle, tmp_path):
    cases = node_attributes(bundle)
    assert len(cases) >= 7, cases
    for name, key in cases:
        def delete(manifest):
            node = [n for n in manifest["nodes"] if n["name"] == name][0]
            del node["attrs"][key]
        path = rewritten(bundle, str(tmp_path / ("%s.npz" % name)), delete)
        out = str(tmp_path / ("out-" + name))
        result = import_bundle(path, out)
        assert result.returncode == 5, (name, key, result.describe())
        message = result.stderr.strip()
        assert ".attrs.%s'" % key in message and "node '%s'" % name in message, message
        assert "Traceback" not in result.stderr and len(message.splitlines()) == 1, message
        assert not [f for f in os.listdir(out) if not f.startswith(".")], os.listdir(out)


def test_every_node_of_the_exported_bundle_is_whole(bundle):
    """Every attribute of every node is written (version 2): completing it again changes nothing."""
    with zipfile.ZipFile(bundle) as z:
        manifest = json.loads(z.read(MANIFEST).decode("utf-8"))
    assert manifest["format_version"] == 2
    for node in manifest["nodes"]:
        assert opspec.complete(node["op"], node["attrs"]) == node["attrs"], node["name"]
    assert np.all([n["op"] in opspec.all_specs() for n in manifest["nodes"]])
