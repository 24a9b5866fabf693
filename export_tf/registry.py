"""The exporter's registry: Keras layer class name -> handler.

A handler is a pure function ``handler(view) -> Node`` that turns one Keras layer call (a LayerView:
its config, weights and concrete tensor shapes) into one manifest node: a canonical op name from the
shared vocabulary, explicit attributes with every default resolved, and named arrays in TF layout.
It raises ``Unsupported(reason)`` for settings the converter cannot express; the orchestrator collects
those over the whole model. Registering the same class twice raises at import time.
"""
from shared.errors import Tf2CaffeError

_HANDLERS = {}


class Unsupported(Exception):
    """Raised by a handler for a layer setting that cannot be converted exactly (with the reason)."""


class Node(object):
    """A handler's result: one manifest node (op, attrs) and its arrays keyed by role."""

    def __init__(self, op, attrs=None, arrays=None):
        self.op = op
        self.attrs = attrs or {}
        self.arrays = arrays or {}


TENSOR = "<tensor>"


class LayerView(object):
    """What a handler may look at: no TF objects, only plain values."""

    def __init__(self, name, class_name, config, weights, input_shapes, output_shapes, operands=None):
        self.name = name
        # the call's positional arguments: TENSOR for a graph tensor, else the constant itself
        # (a Python number or numpy array), as in `x + 3.0` or `x * (1 / 6)`
        self.operands = list(operands or [])
        self.class_name = class_name
        self.config = config
        self.weights = weights              # role -> numpy array (TF layout)
        self.input_shapes = input_shapes    # [tuple] without the batch dimension
        self.output_shapes = output_shapes

    @property
    def input_shape(self):
        return self.input_shapes[0]

    @property
    def output_shape(self):
        return self.output_shapes[0]

    def weight(self, role):
        if role not in self.weights:
            raise Unsupported("expected a weight named %r, found %s" % (role, sorted(self.weights)))
        return self.weights[role]


def register(*class_names, **kwargs):
    """register("Conv2D", ops=("conv2d",)): ops names the manifest ops the handler emits (for the
    README's support table)."""
    ops = tuple(kwargs.pop("ops", ()))
    if kwargs:
        raise TypeError("unknown register() arguments %s" % sorted(kwargs))

    def wrap(func):
        func.ops = ops
        for class_name in class_names:
            if class_name in _HANDLERS:
                raise Tf2CaffeError("exporter handler for %r registered twice (%s and %s)"
                                    % (class_name, _HANDLERS[class_name].__module__, func.__module__))
            _HANDLERS[class_name] = func
        return func
    return wrap


def handler_for(class_name):
    _load()
    return _HANDLERS.get(class_name)


def supported_classes():
    _load()
    return dict(_HANDLERS)


def _load():
    from . import handlers  # noqa: F401  (imports every family module by name)
