"""The exporter's core without TF or Caffe (both Pythons): the one registry class, the one node constructor
(attributes completed by the op spec; a handler's bug is an internal error naming the handler and the layer,
never "unsupported"), the one manifest writer, and what the Keras and the graph readers share."""
import numpy as np
import pytest

from export_tf import manifest, registry
from export_tf.handlers import activation
from export_tf.handlers.conv import transpose_offset
from export_tf.node import HandlerBug, Unsupported, call_handler, make_node
from shared.errors import Tf2CaffeError, UnsupportedError
from shared.registry import Registry


def test_a_name_registered_twice_raises():
    table = Registry("test handler for", "export_tf.handlers", ())
    table.register("A", ops=("x",))(lambda view: None)
    with pytest.raises(Tf2CaffeError, match="test handler for 'A' registered twice"):
        table.register("B", "A")(lambda view: None)


def test_registration_sets_the_declared_info():
    assert registry.handler_for("Conv2D").ops == ("conv2d",)
    assert registry.handler_for("NoSuchLayer") is None and registry.tf_op_handler("NoSuchOp") is None


@pytest.mark.parametrize("name,table", [(n, "keras") for n in sorted(registry.supported_classes())] +
                         [(n, "tf") for n in sorted(registry.supported_ops())])
def test_every_handler_lives_in_a_listed_family(name, table):
    """Both readers' handlers are in the same family modules (a family's TF side is one place)."""
    source = registry.KERAS_LAYERS if table == "keras" else registry.TF_OPS
    package, family = source.module_of(name).rsplit(".", 1)
    assert package == "export_tf.handlers" and family in registry.FAMILIES


def test_one_family_holds_both_readers_convolutions():
    assert registry.KERAS_LAYERS.module_of("Conv2D") == registry.TF_OPS.module_of("Conv2D") == \
        registry.TF_OPS.module_of("Conv2DBackpropInput") == "export_tf.handlers.conv"


def test_make_node_writes_every_default():
    assert make_node("activation", {"function": "relu"}).attrs == activation.relu_attrs()
    assert make_node("activation", {"function": "selu"}).attrs == activation.FIXED["selu"]


@pytest.mark.parametrize("name", [n for n in activation.ACTIVATIONS if n not in ("linear", "hard_sigmoid")])
def test_every_keras_activation_fits_the_spec(name):
    attrs = activation.activation_attr(name)
    assert make_node("activation", attrs).attrs == attrs       # written whole already


@pytest.mark.parametrize("op_type", sorted(activation.TF_ACTIVATIONS))
def test_tf_activation_ops_write_the_keras_activation(op_type):
    assert activation.TF_ACTIVATIONS[op_type] in activation.FIXED


def _bad_attribute(view):
    return make_node("activation", {"function": "relu", "slope_typo": 0.1})


def _bad_value(view):
    return make_node("activation", {"function": "relu", "negative_slope": "steep"})


def _crashing(view):
    return view.config["missing"]


def _not_a_node(view):
    return {"op": "identity"}


@pytest.mark.parametrize("handler,found", [
    pytest.param(_bad_attribute, "_bad_attribute built an invalid 'activation' node", id="unknown-attribute"),
    pytest.param(_bad_value, "_bad_value built an invalid 'activation' node", id="bad-value"),
    pytest.param(_crashing, "failed (AttributeError", id="handler-crashes"),
    pytest.param(_not_a_node, "returned dict, not a node built by make_node", id="not-a-node"),
])
def test_a_handler_bug_is_an_internal_error_naming_handler_and_layer(handler, found):
    with pytest.raises(HandlerBug) as info:
        call_handler(handler, None, "ReLU 're_lu_3'")
    text = str(info.value)
    assert text.startswith("internal error: handler ") and "test_export_core.%s on" % handler.__name__ in text
    assert found in text and "ReLU 're_lu_3'" in text and "please report" in text, text
    assert info.value.exit_code == 1 and not isinstance(info.value, UnsupportedError)


def test_unsupported_passes_through_as_the_handlers_reason():
    def handler(view):
        raise Unsupported("padding='full'")
    with pytest.raises(Unsupported, match="padding='full'"):
        call_handler(handler, None, "Conv2D 'c'")


def test_a_plugins_bug_says_to_fix_the_plugin():
    def mish(view):
        return make_node("no_such_op", {})
    mish.plugin = True
    with pytest.raises(HandlerBug, match=r"^plugin handler .*mish on Mish 'm'.*fix the plugin"):
        call_handler(mish, None, "Mish 'm'")


@pytest.mark.parametrize("padding,size,out,kernel,stride,expected", [
    pytest.param("valid", 4, 9, 3, 2, 0, id="valid"),
    pytest.param("same", 4, 8, 3, 2, 0, id="same-k3-s2"),       # total (4-1)*2+3-8 = 1: nothing before
    pytest.param("same", 4, 8, 4, 2, 1, id="same-k4-s2"),       # total 2: one before, one after
    pytest.param("same", 5, 5, 3, 1, 1, id="same-k3-s1"),
])
def test_transposed_convolution_offset(padding, size, out, kernel, stride, expected):
    assert transpose_offset(padding, size, out, kernel, stride) == expected


def _placed(op, attrs, arrays, name, inputs, outputs):
    return make_node(op, attrs, arrays).place(name, "Test", inputs, outputs)


@pytest.fixture
def written(monkeypatch):
    monkeypatch.setattr(manifest, "_versions", lambda: ("tf-x", "keras-y"))
    kernel = np.arange(6, dtype=np.float32).reshape(2, 3)
    values = {"in": np.ones((2, 2), np.float32), "fc": np.zeros((2, 3), np.float32),
              "act": np.full((2, 3), 0.5, np.float32)}
    nodes = [_placed("dense", {"units": 3, "use_bias": False}, {"kernel": kernel}, "fc", ["in"], ["fc"]),
             _placed("activation", {"function": "sigmoid"}, {}, "act", ["fc"], ["act"])]

    def write(activations=True):
        return manifest.build_manifest("m", {"path": "m.keras"}, [("x", "in")], [("y", "act"), ("y2", "act")],
                                       nodes, values, {"fc": values["fc"]}, activations)
    return kernel, values, write


def test_the_manifest_writer_stores_weights_without_copying_them(written):
    kernel, values, write = written
    m, arrays = write()
    assert arrays[m["nodes"][0]["arrays"]["kernel"]] is kernel
    assert arrays[m["reference"]["inputs"]["in"]] is values["in"]
    assert m["producer"]["tensorflow"] == "tf-x" and m["model_name"] == "m"
    assert [(e["name"], e["tensor"], e["shape"]) for e in m["inputs"]] == [("x", "in", [2])]
    assert [n["source_type"] for n in m["nodes"]] == ["Test", "Test"]


def test_the_manifest_writer_stores_each_output_once_and_activations_on_request(written):
    _, _, write = written
    m, arrays = write()
    assert list(m["reference"]["outputs"]) == ["act"] and list(m["reference"]["activations"]) == ["fc"]
    assert list(m["reference"]["preactivations"]) == ["fc"]
    m, arrays = write(activations=False)
    assert not m["reference"]["activations"] and not m["reference"]["preactivations"]
    assert sorted(arrays) == sorted([m["nodes"][0]["arrays"]["kernel"], m["reference"]["inputs"]["in"],
                                     m["reference"]["outputs"]["act"]])


def test_the_model_and_file_names_are_written_printable(written, monkeypatch):
    """A file name may legally hold a newline or an escape; the manifest shows it escaped and bounded, as
    the schema requires of every text a bundle shows."""
    _, values, _ = written
    nodes = [_placed("activation", {"function": "sigmoid"}, {}, "act", ["in"], ["act"])]
    m, _ = manifest.build_manifest("model\nname", {"path": "my\x1b[31mmodel\n.pb" + "x" * 400, "sha256": "ab" * 32,
                                                   "format": "graphdef"},
                                   [("x", "in")], [("y", "act")], nodes, values)
    assert m["model_name"] == "model\\x0aname"
    assert m["source"]["path"].startswith("my\\x1b[31mmodel\\x0a.pb") and len(m["source"]["path"]) <= 256
    assert m["source"]["path"].isprintable() and m["source"]["format"] == "graphdef"
