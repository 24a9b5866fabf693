"""The legacy-model options on their own (no TensorFlow): --set values, Lambda layers found in a model
config before anything is loaded, the Keras version a legacy .h5 names (issue 13)."""
import json

import pytest

from export_tf.graphdef.settings import parse_settings
from export_tf.loader import keras_major, lambda_layers
from shared.errors import UsageError


def test_set_values():
    assert parse_settings(["is_training=false", "keep_prob=1", "phase:0=TRUE", "scale = 0.5"]) == {
        "is_training": False, "keep_prob": 1.0, "phase": True, "scale": 0.5}
    assert parse_settings([]) == {} and parse_settings(None) == {}


@pytest.mark.parametrize("item", ["is_training", "is_training=", "=1", "is_training=maybe"])
def test_set_refuses_what_is_not_name_equals_value(item):
    with pytest.raises(UsageError, match="--set"):
        parse_settings([item])


def test_set_refuses_a_name_twice():
    with pytest.raises(UsageError, match="set twice"):
        parse_settings(["a=1", "a=2"])


def test_lambda_layers_are_found_in_nested_configs():
    inner = {"class_name": "Functional", "config": {"layers": [
        {"class_name": "Lambda", "config": {"name": "inner_lambda", "function": ["bytecode", None, None]}}]}}
    config = {"class_name": "Functional", "config": {"layers": [
        {"class_name": "Conv2D", "config": {"name": "conv"}}, inner,
        {"class_name": "Lambda", "config": {"name": "outer_lambda"}}]}}
    assert lambda_layers(json.dumps(config)) == ["inner_lambda", "outer_lambda"]
    assert lambda_layers(json.dumps({"class_name": "Sequential", "config": {"layers": []}})) == []
    assert lambda_layers(None) == [] and lambda_layers("not json") == []


@pytest.mark.parametrize("version,major", [("2.21.0", 2), (b"2.4.0", 2), ("3.15.1", 3), ("1.2.2", 1),
                                           (None, None), ("unknown", None)])
def test_keras_major(version, major):
    assert keras_major(version) == major
