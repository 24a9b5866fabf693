"""The extension point: a custom Keras layer taught to both sides by a plugin file
(tests/e2e/plugins/mish_plugin.py, the README's example), and what happens without it."""
import os

import keras
from keras import layers

from conftest import ROOT, assert_parity, caffe_layer_types, convert, import_bundle, randomize

PLUGIN = os.path.join(ROOT, "tests", "e2e", "plugins", "mish_plugin.py")


def _model():
    from export_tf.plugins import activate, custom_objects
    activate([PLUGIN])
    mish = custom_objects()["Mish"]
    inp = keras.Input((6, 7, 3), name="image")
    x = layers.Conv2D(4, 3, padding="same", name="conv")(inp)
    x = layers.Rescaling(3.0, name="spread")(x)      # values well beyond +-3: both tails of softplus
    x = mish(name="mish")(x)
    out = layers.Conv2D(2, 1, name="head")(x)
    return randomize(keras.Model(inp, out))


def test_custom_layer_converts_through_a_plugin(tmp_path):
    model = _model()
    model.save(str(tmp_path / "model.keras"))
    from export_tf.exporter import export
    bundle = str(tmp_path / "bundle.npz")
    export(str(tmp_path / "model.keras"), bundle, plugins=[PLUGIN])
    result = import_bundle(bundle, str(tmp_path / "caffe"), "--plugin", PLUGIN)
    report = assert_parity(result)
    assert "mish" in [r["layer"] for r in report["layers"] if r["status"] == "ok"]
    types = caffe_layer_types(result)
    assert "BNLL" in types and "TanH" in types


def test_without_the_plugin_the_importer_names_the_op_and_the_option(tmp_path):
    model = _model()
    model.save(str(tmp_path / "model.keras"))
    from export_tf.exporter import export
    bundle = str(tmp_path / "bundle.npz")
    export(str(tmp_path / "model.keras"), bundle, plugins=[PLUGIN])
    out = str(tmp_path / "caffe")
    result = import_bundle(bundle, out)
    assert result.returncode == 4, result.describe()
    assert "'mish'" in result.stderr and "--plugin" in result.stderr
    assert os.listdir(out) == []


def test_a_broken_plugin_is_a_one_line_usage_error(tmp_path):
    bad = tmp_path / "bad_plugin.py"
    bad.write_text("def tf2caffe_import(api):\n    raise RuntimeError('boom')\n")
    result = import_bundle(str(bad), str(tmp_path / "caffe"), "--plugin", str(bad))
    assert result.returncode == 2, result.describe()
    assert "bad_plugin.py" in result.stderr and "boom" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
