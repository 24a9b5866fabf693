"""Reference inputs that fit the model (export_tf/domains.py), how the bundle records them (shared/schema.py)
and the names a conversion that failed verification is kept under. No TF, no Caffe, both Pythons."""
import copy

import numpy as np
import pytest

from export_tf import domains
from import_caffe.staging import FAILED_MARK, failed_name
from shared import schema
from shared.errors import BundleError, UsageError


class Layer(object):
    def __init__(self, input_dim=None, **config):
        if input_dim is not None:
            self.input_dim = input_dim
        self.config = config

    def get_config(self):
        return dict(self.config)


class Node(object):
    def __init__(self, name, class_name, inputs, layer=None):
        self.name, self.class_name, self.inputs, self.outputs = name, class_name, inputs, [name]
        self.layer = layer or Layer()


class Graph(object):
    def __init__(self, *nodes):
        self.nodes = list(nodes)


@pytest.mark.parametrize("scale, offset, pixels", [
    (1 / 255.0, 0.0, True), (1 / 127.5, -1.0, True), (1 / 128.0, -1.0, True), (-1 / 255.0, 1.0, True),
    (1.0, 0.0, False), (1 / 255.0, 0.5, False), (2 / 255.0, 0.0, False), (0.0, 0.0, False),
], ids=["x/255", "x/127.5-1", "x/128-1", "1-x/255", "identity", "shifted", "x/127.5", "zero"])
def test_a_pixel_front_end_maps_0_255_onto_0_1_or_minus_1_1(scale, offset, pixels):
    assert domains.pixel_front_end(scale, offset) is pixels


def test_an_input_that_reaches_an_embedding_through_value_keeping_layers_gets_ids():
    graph = Graph(Node("r", "Reshape", ["chars"]), Node("d", "Dropout", ["r"]),
                  Node("small", "Embedding", ["d"], Layer(input_dim=7)),
                  Node("big", "Embedding", ["chars"], Layer(input_dim=70)),
                  Node("dense", "Dense", ["small"]))
    domain = domains.keras_domain(graph, "chars", integer=False)        # a float Input, as Keras declares by default
    assert (domain.kind, domain.low, domain.high) == (domains.IDS, 0, 7)
    assert "Embedding 'small' (input_dim 7) and 1 more" in domain.reason
    values = domains.draw(domain, (2, 300), np.random.default_rng(0))
    assert values.dtype == np.float32 and values.min() == 0 and values.max() == 6 and np.all(values == np.round(values))


def test_a_layer_that_changes_values_stops_the_search():
    graph = Graph(Node("dense", "Dense", ["x"]), Node("emb", "Embedding", ["dense"], Layer(input_dim=9)))
    assert domains.keras_domain(graph, "x", integer=False).kind == domains.REAL
    assert domains.keras_domain(graph, "x", integer=True).high == domains.DEFAULT_ID_RANGE


def test_a_rescaling_front_end_written_for_8_bit_images_gets_0_to_255():
    front = Node("rescaling", "Rescaling", ["image"], Layer(scale=1 / 255.0, offset=0.0))
    domain = domains.keras_domain(Graph(front, Node("conv", "Conv2D", ["rescaling"])), "image", integer=False)
    assert (domain.kind, domain.low, domain.high) == (domains.PIXELS, 0, 255)
    assert "Rescaling 'rescaling'" in domain.reason
    values = domains.draw(domain, (2, 50, 50, 3), np.random.default_rng(0))
    assert values.min() == 0 and values.max() == 255
    other = Node("conv2", "Conv2D", ["image"])          # a second path without the front end: not pixels
    assert domains.keras_domain(Graph(front, other), "image", integer=False).kind == domains.REAL


@pytest.mark.parametrize("values", [[[0, 3, 7]], [[0, 1.5, 2]], [[-1, 0, 2]]],
                         ids=["too_large", "fraction", "negative"])
def test_given_ids_must_be_valid(values):
    with pytest.raises(UsageError, match=r"integer indices in \[0, 7\)"):
        domains.check_given("chars", domains.ids(7, "reaches Embedding 'e'"), np.array(values, np.float32))
    domains.check_given("image", domains.real(), np.array(values, np.float32))     # any values for a real input


# ----------------------------------------------------------------------------------------- the manifest

def manifest(**reference):
    data = {"format": "tf2caffe-bundle", "format_version": 2,
            "producer": {"name": "p", "version": "1", "tensorflow": "2", "keras": "3"},
            "source": {"path": "m.keras", "sha256": "0" * 64, "format": "keras"}, "model_name": "m",
            "inputs": [{"name": "x", "tensor": "x", "shape": [3], "dtype": "float32"}],
            "outputs": [{"name": "y", "tensor": "y", "shape": [3], "dtype": "float32"}],
            "tensors": {"x": {"shape": [3], "dtype": "float32"}, "y": {"shape": [3], "dtype": "float32"}},
            "nodes": [{"name": "y", "op": "identity", "source_type": "Dropout", "inputs": ["x"], "outputs": ["y"],
                       "attrs": {}, "arrays": {}}],
            "arrays": {}, "reference": {"batch": 2, "inputs": {}, "outputs": {}, "activations": {}}}
    data["reference"].update(reference)
    return data


def test_how_the_inputs_were_made_is_recorded_and_optional():
    schema.validate_manifest(manifest())        # a bundle written before these fields
    made = domains.made({"x": domains.ids(70, "reaches Embedding 'e' (input_dim 70)")}, False, 3)
    schema.validate_manifest(manifest(**made))
    assert made["input_domains"]["x"] == {"kind": "ids", "low": 0, "high": 70,
                                          "reason": "reaches Embedding 'e' (input_dim 70)"}
    for domain in (domains.pixels("front end"), domains.real()):
        schema.validate_manifest(manifest(**domains.made({"x": domain}, True, 0)))


@pytest.mark.parametrize("change, field", [
    (lambda r: r.update(inputs_made="guessed"), "reference.inputs_made"),
    (lambda r: r.update(seed=-1), "reference.seed"),
    (lambda r: r.update(input_domains=[]), "reference.input_domains"),
    (lambda r: r["input_domains"].update(y=r["input_domains"].pop("x")), "reference.input_domains[y]"),
    (lambda r: r["input_domains"]["x"].update(kind="bytes"), "reference.input_domains[x].kind"),
    (lambda r: r["input_domains"]["x"].update(high=0), "reference.input_domains[x]"),
    (lambda r: r["input_domains"]["x"].update(low=-5), "reference.input_domains[x]"),
    (lambda r: r["input_domains"]["x"].update(high=2.5), "reference.input_domains[x]"),
    (lambda r: r["input_domains"]["x"].update(reason="a\x1b[2Jb"), "reference.input_domains[x].reason"),
    (lambda r: r["input_domains"]["x"].update(extra=1), "reference.input_domains[x].extra"),
    (lambda r: r["input_domains"]["x"].pop("kind"), "reference.input_domains[x].kind"),
], ids=["made", "seed", "domains_not_object", "not_an_input", "kind", "empty_range", "negative_id",
        "fraction_id", "hostile_reason", "extra_field", "no_kind"])
def test_a_malformed_record_is_refused_naming_the_field(change, field):
    data = manifest(**domains.made({"x": domains.ids(70, "reaches Embedding 'e'")}, False, 0))
    change(data["reference"])
    with pytest.raises(BundleError) as info:
        schema.validate_manifest(copy.deepcopy(data))
    assert "manifest field '%s'" % field in str(info.value)


# ----------------------------------------------------------------------------------------- --keep-on-failure

@pytest.mark.parametrize("name, kept", [
    ("tiny.prototxt", "tiny.failed-verification.prototxt"),
    ("tiny.caffemodel", "tiny.failed-verification.caffemodel"),
    ("v1.2.caffemodel.h5", "v1.2.failed-verification.caffemodel.h5"),
])
def test_files_that_failed_verification_say_so_in_their_name(name, kept):
    assert failed_name(name) == kept


def test_a_long_name_that_failed_verification_still_fits_a_file_name():
    for suffix in (".prototxt", ".caffemodel.h5"):
        name = failed_name("m" * 241 + suffix)
        assert len(name.encode("utf-8")) <= 255 and name.endswith(FAILED_MARK + suffix)
        assert failed_name("m" * 240 + "x" + suffix) != name
