"""Which fused activations get the layer's values before them stored in the bundle (export_tf.reference
needs_preactivation): those that can hide an error of their layer (saturating, normalising, squashing),
and any activation the rule does not name; not those whose own output shows the layer's errors."""
import pytest

from export_tf.handlers.activation import ACTIVATIONS, activation_attr
from export_tf.reference import SHOWS_LAYER_ERRORS, needs_preactivation

KEPT = ("relu6", "sigmoid", "tanh", "softmax", "softsign", "hard_sigmoid", "sparse_sigmoid", "hard_tanh",
        "exponential")
KERAS2_CONFIG = {"dtype": "float32"}          # what tells a Keras 2 hard_sigmoid from Keras 3's


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_every_named_activation_is_decided(name):
    expected = name in KEPT
    assert needs_preactivation(activation_attr(name)) is expected
    assert needs_preactivation(activation_attr(name, KERAS2_CONFIG)) is expected


def test_linear_has_nothing_before_it():
    assert needs_preactivation(activation_attr("linear")) is False
    assert needs_preactivation(None) is False


@pytest.mark.parametrize("attrs, expected", [
    pytest.param({"function": "relu"}, False, id="relu"),
    pytest.param({"function": "relu", "negative_slope": 0.2, "max_value": None}, False, id="leaky"),
    pytest.param({"function": "relu", "negative_slope": 0.0, "max_value": None, "threshold": 1.0}, False,
                 id="thresholded"),
    pytest.param({"function": "relu", "negative_slope": 0.0, "max_value": 6.0}, True, id="capped-clips"),
    pytest.param({"function": "some_future_activation"}, True, id="unknown-is-kept"),
])
def test_relu_variants_and_unknown_functions(attrs, expected):
    assert needs_preactivation(attrs) is expected


def test_the_rule_names_only_functions_the_exporter_writes():
    """A misspelt name in SHOWS_LAYER_ERRORS would silently keep that activation's values."""
    written = set(activation_attr(name)["function"] for name in ACTIVATIONS if name != "linear")
    assert SHOWS_LAYER_ERRORS <= written, sorted(SHOWS_LAYER_ERRORS - written)
