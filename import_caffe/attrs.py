"""A node's attributes and arrays are untrusted input too. The schema (shared/schema.py) checks the
manifest's structure; this checks, op by op, what the importer's handlers read from a node — types,
ranges, and that windows and weights fit the node's input — before the handler runs. A malformed node is
refused with a BundleError naming the node and the field, instead of failing inside a handler (or
making Caffe abort, or planning something absurdly large).

Only attributes that are present are checked (a missing one is reported by the planner), and ops without
rules here are left to their handler. Every limit is far beyond what a Keras model produces: TF's SAME
padding never pads a whole window, and a window always fits the padded input.
"""
import math

from shared.errors import BundleError

from .layout import IMAGE

MAX_INT = (1 << 31) - 1      # Caffe's layer parameters are 32-bit
MAX_WINDOW = 1 << 16         # kernel sizes, strides, dilations and pads of one spatial axis
MAX_RANK = 8
_ATTR = object()             # "read the value from attrs[key]"


class NodeCheck(object):
    """What a check rule sees: the node, with helpers that validate one field each."""

    def __init__(self, node, where):
        self.node = node
        self.attrs = node["attrs"]
        self.where = where

    def fail(self, field, message):
        raise BundleError("%s: node %r (%s, op %r): %s: %s" % (self.where, self.node["name"],
                                                                 self.node["source_type"], self.node["op"],
                                                                 field, message))

    def has(self, key):
        return key in self.attrs

    def int(self, key, lo, hi=MAX_INT, value=_ATTR, field=None):
        value = self.attrs[key] if value is _ATTR else value
        if not _is_int(value) or not lo <= value <= hi:
            self.fail(field or "attrs." + key, "expected an integer in %d..%d, found %s" % (lo, hi, _show(value)))
        return value

    def ints(self, key, count, lo, hi=MAX_WINDOW):
        value = self.attrs[key]
        if not isinstance(value, list) or len(value) != count or not all(_is_int(v) and lo <= v <= hi for v in value):
            self.fail("attrs." + key, "expected %d integers in %d..%d, found %s" % (count, lo, hi, _show(value)))
        return value

    def number(self, key, value=_ATTR, field=None, lo=None, none_ok=False):
        value = self.attrs[key] if value is _ATTR else value
        if value is None and none_ok:
            return value
        if not _is_number(value) or (lo is not None and value < lo):
            self.fail(field or "attrs." + key, "expected a finite number%s, found %s"
                      % ("" if lo is None else " >= %g" % lo, _show(value)))
        return value

    def numbers(self, key):
        value = self.attrs[key]
        if not isinstance(value, list) or not value or not all(_is_number(v) for v in value):
            self.fail("attrs." + key, "expected a non-empty list of finite numbers, found %s" % _show(value))
        return value

    def string(self, key, value=_ATTR, field=None):
        value = self.attrs[key] if value is _ATTR else value
        if not isinstance(value, str):
            self.fail(field or "attrs." + key, "expected a string, found %s" % _show(value))
        return value

    def boolean(self, key):
        if not isinstance(self.attrs[key], bool):
            self.fail("attrs." + key, "expected true or false, found %s" % _show(self.attrs[key]))

    def activation(self, value, field):
        """An activation: {"function": str, "negative_slope"?, "max_value"?, "threshold"?, "alpha"?, "scale"?,
        "slope"?, "offset"?, "min"?, "max"?, "b"?: number (max_value may be null), "approximate"?: bool,
        "axis"?: int or a list of ints}."""
        if not isinstance(value, dict):
            self.fail(field, "expected an object, found %s" % _show(value))
        if "function" not in value:
            self.fail(field + ".function", "missing")
        self.string(None, value["function"], field + ".function")
        for key in ("negative_slope", "max_value", "threshold", "alpha", "scale", "slope", "offset", "min", "max", "b"):
            if key in value:
                self.number(None, value[key], "%s.%s" % (field, key), none_ok=key == "max_value")
        if "approximate" in value and not isinstance(value["approximate"], bool):
            self.fail(field + ".approximate", "expected true or false, found %s" % _show(value["approximate"]))
        if "axis" in value:
            axes = value["axis"]
            if isinstance(axes, list):
                if not 1 <= len(axes) <= MAX_RANK or len(set(map(repr, axes))) != len(axes):
                    self.fail(field + ".axis", "expected 1 to %d distinct axes, found %s" % (MAX_RANK, _show(axes)))
                for axis in axes:
                    self.int(None, -MAX_RANK, MAX_RANK, axis, field + ".axis")
            else:
                self.int(None, -MAX_RANK, MAX_RANK, axes, field + ".axis")

    def array(self, arrays, role, rank, expected=None):
        """The node's array `role` (if present) has `rank` dimensions and, where given, those sizes."""
        arr = arrays.get(role)
        if arr is None:
            return None
        shape = tuple(arr.shape)
        if len(shape) != rank or (expected is not None and
                                  any(e is not None and e != s for e, s in zip(expected, shape))):
            want = "rank %d" % rank if expected is None else \
                "(%s)" % ", ".join("*" if e is None else str(e) for e in expected)
            self.fail("arrays.%s" % role, "expected shape %s, found %r" % (want, shape))
        return shape


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and
            (isinstance(value, int) or math.isfinite(value)) and abs(value) <= 3.4e38)


def _show(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _image(ins):
    """(h, w, c) of the node's first input if it is an image, else None (the handler refuses others)."""
    if ins and ins[0].layout.kind == IMAGE and len(ins[0].shape) == 3:
        return ins[0].shape
    return None


def _windows(n, ins, dilated):
    """kernel_size, strides, dilation and pads, and every window fits the padded input."""
    kernel = n.ints("kernel_size", 2, 1) if n.has("kernel_size") else None
    if n.has("strides"):
        n.ints("strides", 2, 1)
    dilation = n.ints("dilation", 2, 1) if dilated and n.has("dilation") else [1, 1]
    pads = n.ints("pads", 4, 0) if n.has("pads") else None
    hwc = _image(ins)
    if kernel is None or pads is None or hwc is None:
        return
    for axis in range(2):
        k_eff = (kernel[axis] - 1) * dilation[axis] + 1
        before, after = pads[2 * axis], pads[2 * axis + 1]
        if max(before, after) >= k_eff:
            n.fail("attrs.pads", "%r pad %s by a whole window of %d or more (TF's SAME padding never does)"
                   % (pads, "HW"[axis], k_eff))
        if k_eff > hwc[axis] + before + after:
            n.fail("attrs.kernel_size", "a window of %d does not fit the input's %s of %d padded by %d + %d"
                   % (k_eff, "HW"[axis], hwc[axis], before, after))


def _conv(n, ins, arrays):
    _windows(n, ins, dilated=True)
    groups = n.int("groups", 1) if n.has("groups") else 1
    if n.has("activation") and n.attrs["activation"] is not None:
        n.activation(n.attrs["activation"], "attrs.activation")
    hwc = _image(ins)
    kernel_hw = n.attrs.get("kernel_size") or [None, None]
    if n.node["op"] == "conv2d":
        cin = None if hwc is None else hwc[2] // groups if hwc[2] % groups == 0 else None
        shape = n.array(arrays, "kernel", 4, list(kernel_hw) + [cin, None])
        out = shape[3] if shape else None
    else:
        shape = n.array(arrays, "kernel", 4, list(kernel_hw) + [None if hwc is None else hwc[2], None])
        out = shape[2] * shape[3] if shape else None
    n.array(arrays, "bias", 1, [out])


def _pool(n, ins, arrays):
    _windows(n, ins, dilated=False)


def _dense(n, ins, arrays):
    if n.has("activation") and n.attrs["activation"] is not None:
        n.activation(n.attrs["activation"], "attrs.activation")
    shape = n.array(arrays, "kernel", 2)
    n.array(arrays, "bias", 1, [shape[1] if shape else None])


def _activation(n, ins, arrays):
    n.activation(n.attrs, "attrs")


def _rescale(n, ins, arrays):
    for key in ("scale", "offset"):
        if n.has(key):
            n.numbers(key)


def _batch_norm(n, ins, arrays):
    if n.has("epsilon"):
        n.number("epsilon", lo=0)
    channels = ins[0].shape[-1] if ins and ins[0].shape else None
    for role in ("gamma", "beta", "moving_mean", "moving_variance"):
        n.array(arrays, role, 1, [channels])


def _concat(n, ins, arrays):
    if n.has("axis"):   # counted with the batch axis, as the exporter writes it: 1..rank
        n.int("axis", 1, max(1, len(ins[0].shape)))


def _global_pool(n, ins, arrays):
    if n.has("mode"):
        n.string("mode")
    if n.has("keepdims"):
        n.boolean("keepdims")


def _reshape(n, ins, arrays):
    if n.has("target_shape"):
        value = n.attrs["target_shape"]
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_RANK or \
                not all(_is_int(v) and 1 <= v <= MAX_INT for v in value):
            n.fail("attrs.target_shape", "expected 1 to %d positive integers, found %s" % (MAX_RANK, _show(value)))


def _pad(n, ins, arrays):
    if n.has("pads"):
        n.ints("pads", 4, 0)


RULES = {
    "conv2d": _conv, "depthwise_conv2d": _conv, "max_pool2d": _pool, "avg_pool2d": _pool, "dense": _dense,
    "activation": _activation, "rescale": _rescale, "batch_norm": _batch_norm, "concat": _concat,
    "global_pool2d": _global_pool, "reshape": _reshape, "pad2d": _pad,
    "flatten": None, "identity": None,
}


MERGES = ("add", "concat")     # one input or more; every other op with rules here takes exactly one


def check_node(node, ins, arrays, where="bundle", handler=None):
    """Raise BundleError if `node`'s attributes or arrays cannot be what its op expects for inputs `ins`
    (TensorRefs) — see the module docstring. arrays: the node's arrays by role (TF layout). handler: the
    op's registry entry, whose ``check`` and ``inputs`` apply to ops without rules here."""
    op = node["op"]
    if op in RULES or op in MERGES:
        rule = RULES.get(op)
        arity = "many" if op in MERGES else 1
    elif handler is not None:
        rule, arity = handler.check, handler.inputs
    else:
        return
    n = NodeCheck(node, where)
    if arity == "many":
        if not ins:
            n.fail("inputs", "op %r takes at least one input, found 0" % op)
    elif len(ins) != arity:
        n.fail("inputs", "op %r takes exactly %d input%s, found %d" % (op, arity, "" if arity == 1 else "s",
                                                                        len(ins)))
    if rule is not None:
        rule(n, ins, arrays)


def no_attrs(n, ins, arrays):
    """The check rule of an op that reads no attributes and no arrays."""
