"""The importer's registry: manifest op name -> handler.

A handler is a pure function ``handler(node, ins, arrays, names, target) -> Lowering``:

* node   — the manifest node (a dict: name, op, source_type, attrs, ...)
* ins    — a TensorRef per input (blob name, TF shape, layout)
* arrays — the node's arrays by role, in TF layout (transpose them with import_caffe.layout)
* names  — a Names helper for layer and blob names
* target — what the Caffe build offers (Target)

It returns Caffe layers with their blobs in Caffe layout; it never touches caffe itself. It raises
``Unsupported(reason)`` for what stock Caffe cannot express. ``flat_ok`` says whether the handler
accepts FLAT_CHW inputs as they are (True, False, or a predicate on (node, ins)); otherwise the
planner restores HWC order first. Registering an op twice raises at import time.

Every op also declares how many inputs it takes (``inputs=1``, or ``inputs="many"`` for merges) and,
with ``check=rule``, a rule ``rule(n, ins, arrays)`` that validates the untrusted attributes and arrays
the handler reads, using the helpers of ``import_caffe.attrs.NodeCheck`` (``n.int``, ``n.ints``,
``n.number``, ``n.array``, ...). The rule runs before the handler; a malformed node becomes a
BundleError naming the node and field. Put the rule next to its handler.
"""
from shared.errors import Tf2CaffeError

_HANDLERS = {}


class Unsupported(Exception):
    """A setting stock Caffe cannot express exactly (the message says why)."""


class Handler(object):
    def __init__(self, op, func, flat_ok, family, composition, check=None, inputs=1):
        self.op = op
        self.check = check
        self.inputs = inputs
        self.func = func
        self.flat_ok = flat_ok
        self.family = family
        self.composition = composition

    def accepts_flat(self, node, ins):
        if callable(self.flat_ok):
            return bool(self.flat_ok(node, ins))
        return bool(self.flat_ok)


class Target(object):
    """The Caffe build's capabilities (stock BVLC Caffe 1.0 as Debian packages it has Clip)."""

    def __init__(self, has_clip=True, name="caffe-1.0-debian"):
        self.has_clip = has_clip
        self.name = name


def register(op, flat_ok=False, composition="", check=None, inputs=1):
    """composition: the Caffe layers the op lowers to, for the README table. check, inputs: see the
    module docstring."""
    if inputs != "many" and not (isinstance(inputs, int) and inputs >= 1):
        raise Tf2CaffeError("register(%r): inputs must be a positive integer or 'many'" % op)
    def wrap(func):
        if op in _HANDLERS:
            raise Tf2CaffeError("importer handler for op %r registered twice (%s and %s)"
                                % (op, _HANDLERS[op].func.__module__, func.__module__))
        family = func.__module__.rsplit(".", 1)[-1]
        _HANDLERS[op] = Handler(op, func, flat_ok, family, composition, check, inputs)
        return func
    return wrap


def handler_for(op):
    _load()
    return _HANDLERS.get(op)


def all_handlers():
    _load()
    return dict(_HANDLERS)


def _load():
    from . import handlers  # noqa: F401  (imports every family module by name)
