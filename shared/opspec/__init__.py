"""The manifest's op vocabulary, declared once.

Every manifest op has one ``OpSpec``: how many inputs it takes, every attribute with its type, range
and default, the arrays it carries (and when), and a rule that checks the shapes of its arrays and
outputs against the shapes of its inputs. Both sides use it:

* the exporter builds every node through ``complete(op, attrs)``, so each node is written whole, with
  every default resolved on the TF side;
* ``shared.schema`` checks every node of a bundle against it (``check_node``) before anything is planned:
  a missing or out-of-range attribute, a wrong arity or an array of the wrong shape is a malformed-bundle
  error naming the node and the field;
* the importer's handlers then index attributes directly (``node["attrs"]["pads"]``), with no defaults
  of their own;
* the README's support table and manifest reference are generated from it.

The specs live in family modules with the family names both sides use (conv, dense, norm, pool,
activation, merge, reshape, resize, sequence, recurrent, attention, core, applications); a plugin declares
its own ops with ``declare``. An op is declared once: a second, different declaration raises.
"""
from shared.errors import Tf2CaffeError

from .fields import FieldError, show

_SPECS = {}


class SpecError(Tf2CaffeError):
    """A node built by the exporter does not fit its op's spec (a handler bug, not the user's)."""


class Array(object):
    """An array role: its rank (None: the rule checks it) and when the node carries it (``when(attrs)``;
    None: always)."""

    def __init__(self, rank, when=None, doc=""):
        self.rank, self.when, self.doc = rank, when, doc

    def expected(self, attrs):
        return True if self.when is None else bool(self.when(attrs))


class OpSpec(object):
    """inputs: an exact count, or (least, most) with most None for any number. rule(ctx): checks
    shapes across fields (see NodeContext); it runs only on attributes that passed their fields."""

    def __init__(self, name, family, inputs=1, attrs=None, arrays=None, rule=None, variant=None, doc="",
                 held=None):
        self.name = name
        self.family = family
        self.inputs = inputs if isinstance(inputs, tuple) else (inputs, inputs)
        self.attrs = dict(attrs or {})
        self.arrays = dict(arrays or {})
        self.rule = rule
        # (key, {value: {attr: Field}}): more attributes that depend on the value of attribute `key`
        # (an activation's parameters depend on its function)
        self.variant = variant
        self.doc = doc
        # held(attrs, input shapes) -> the values per sample the op's lowering holds beyond its declared
        # tensors (an attention's product terms), for bounding what a bundle makes Caffe allocate; None: none
        self.held = held

    def fields(self, attrs):
        """Every attribute the node has, given the values it holds (for a variant op)."""
        if self.variant is None:
            return self.attrs
        key, table = self.variant
        out = dict(self.attrs)
        value = attrs.get(key)
        if isinstance(value, str):
            out.update(table.get(value, {}))
        return out

    def arity_text(self):
        least, most = self.inputs
        if least == most:
            return str(least)
        return "%d or more" % least if most is None else "%d to %d" % (least, most)

    def same_as(self, other):
        return (self.inputs == other.inputs and sorted(self.attrs) == sorted(other.attrs) and
                sorted(self.arrays) == sorted(other.arrays))


class NodeContext(object):
    """What a rule sees: the node's checked attributes, its input and output shapes (TF, without the
    batch) and its arrays' shapes by role; ``fail(field, message)`` raises a BundleError naming the node."""

    def __init__(self, node, ins, outs, arrays, where):
        self.node = node
        self.attrs = node["attrs"]
        self.ins = [tuple(s) for s in ins]
        self.outs = None if outs is None else [tuple(s) for s in outs]
        self.inferred = {}          # output index -> the shape the rule derived
        self.arrays = dict((role, tuple(shape)) for role, shape in arrays.items())
        self.where = where

    def fail(self, field, message):
        from shared.errors import BundleError
        raise BundleError("manifest field '%s.%s' (node %s, %s, op %s): %s" % (
            self.where, field, show(self.node.get("name")), show(self.node.get("source_type")),
            show(self.node.get("op")), message))

    def array(self, role, expected):
        """The array `role` (when present) has len(expected) dimensions of those sizes (None: any)."""
        shape = self.arrays.get(role)
        if shape is None:
            return None
        if len(shape) != len(expected) or any(e is not None and e != s for e, s in zip(expected, shape)):
            want = "(%s)" % ", ".join("*" if e is None else str(e) for e in expected)
            self.fail("arrays.%s" % role, "expected shape %s, found %r" % (want, shape))
        return shape

    def rank(self, index, *ranks):
        """Input `index` has one of these ranks (without the batch); returns its shape."""
        shape = self.ins[index]
        if len(shape) not in ranks:
            self.fail("inputs[%d]" % index, "expected a tensor of rank %s (without the batch), found shape %r"
                      % (" or ".join(str(r) for r in ranks), shape))
        return shape

    def output(self, expected, index=0):
        """The declared output shape is `expected` (the op's shape rule). Without declared outputs (a
        unit test checking a node alone) there is nothing to compare."""
        expected = tuple(expected)
        self.inferred[index] = list(expected)
        if self.outs is not None and self.outs[index] != expected:
            self.fail("outputs[%d]" % index, "declared shape %r, but the op's inputs and attributes give %r"
                      % (self.outs[index], expected))


def declare(name, family, **kw):
    """Declare op `name` (see OpSpec). The same declaration twice is allowed (a plugin loaded on both
    sides in one process); a different one raises."""
    spec = OpSpec(name, family, **kw)
    old = _SPECS.get(name)
    if old is not None:
        if old.family == family and old.same_as(spec):
            return old
        raise Tf2CaffeError("op %r declared twice (%s and %s)" % (name, old.family, family))
    _SPECS[name] = spec
    return spec


def held(node, ins):
    """The values per sample node's lowering holds beyond its declared tensors (0 for most ops), given its
    checked attributes and its inputs' TF shapes: what a bound on the activations a bundle makes Caffe
    allocate adds to the declared tensors."""
    spec = spec_for(node["op"])
    if spec is None or spec.held is None:
        return 0
    return int(spec.held(node["attrs"], [tuple(s) for s in ins]))


def spec_for(op):
    _load()
    return _SPECS.get(op)


def all_specs():
    _load()
    return dict(_SPECS)


def builtin_specs():
    """The specs of the ops this package declares (not a plugin's)."""
    _load()
    return dict((k, v) for k, v in _SPECS.items() if v.family in FAMILIES)


def complete(op, attrs):
    """The exporter's node constructor: `attrs` with every default filled in, each value checked.
    Raises SpecError for an unknown op, an unknown or missing attribute, or a bad value."""
    spec = spec_for(op)
    if spec is None:
        raise SpecError("op %r is not declared in shared/opspec (declare it, or in a plugin with "
                        "api.declare)" % (op,))
    try:
        return complete_fields(spec.fields(attrs), attrs)
    except FieldError as exc:
        raise SpecError("op %r: %s" % (op, exc))


def complete_fields(fields, attrs):
    """`attrs` with every field's default filled in and each value checked (FieldError otherwise)."""
    unknown = sorted(set(attrs) - set(fields))
    if unknown:
        raise FieldError("no attribute %s (there are: %s)" % (", ".join(unknown), ", ".join(sorted(fields)) or "none"))
    out = {}
    for key, field in fields.items():
        if key in attrs:
            value = attrs[key]
        elif field.required:
            raise FieldError("attribute %r is required" % key)
        else:
            value = field.default
        try:
            out[key] = field.complete(value)
        except FieldError as exc:
            raise FieldError("attribute %r: %s" % (key, exc))
    return out


def fill_defaults(node):
    """A version-1 node (attributes with defaults could be left out) as version 2 writes it. Values
    are not checked here: check_node does that next."""
    spec = spec_for(node.get("op")) if isinstance(node, dict) else None
    attrs = node.get("attrs") if spec is not None else None
    if not isinstance(attrs, dict):
        return
    for key, field in spec.fields(attrs).items():
        if key not in attrs and not field.required:
            attrs[key] = field.default
        elif key in attrs:
            attrs[key] = field.upgrade(attrs[key])


def check_node(node, ins, outs, arrays, where):
    """Check `node` against its op's spec. ins/outs: TF shapes of its inputs and outputs (outs None:
    not known yet); arrays: {role: declared shape}. Raises BundleError naming the node and field.
    Returns the output shapes the op's rule derives ({index: shape}). An op without a spec is left to
    the importer, which reports it as unsupported."""
    spec = spec_for(node["op"])
    if spec is None:
        return {}
    ctx = NodeContext(node, ins, outs, arrays, where)
    least, most = spec.inputs
    if len(ins) < least or (most is not None and len(ins) > most):
        ctx.fail("inputs", "op %r takes %s input%s, found %d" % (spec.name, spec.arity_text(),
                                                                "" if spec.inputs == (1, 1) else "s", len(ins)))
    attrs = node["attrs"]
    fields = spec.fields(attrs)
    for key in sorted(set(attrs) - set(fields)):
        ctx.fail("attrs." + key, "op %r has no such attribute" % spec.name)
    for key, field in sorted(fields.items()):
        if key not in attrs:
            ctx.fail("attrs." + key, "missing")
        try:
            field.check(attrs[key])
        except FieldError as exc:
            ctx.fail("attrs." + key, str(exc))
    for role in sorted(set(arrays) - set(spec.arrays)):
        ctx.fail("arrays." + role, "op %r carries no such array" % spec.name)
    for role, decl in sorted(spec.arrays.items()):
        present = role in arrays
        if present != decl.expected(attrs):
            ctx.fail("arrays." + role, "missing" if not present else "not expected with these attributes")
        if present and decl.rank is not None and len(arrays[role]) != decl.rank:
            ctx.fail("arrays." + role, "expected rank %d, found shape %r" % (decl.rank, tuple(arrays[role])))
    if spec.rule is not None:
        spec.rule(ctx)
    return ctx.inferred


FAMILIES = ("activation", "applications", "attention", "conv", "core", "dense", "merge", "norm", "pool",
            "recurrent", "reshape", "resize", "sequence")


def _load():
    from . import (activation, applications, attention, conv, core, dense, merge, norm,  # noqa: F401
                   pool, recurrent, reshape, resize, sequence)
