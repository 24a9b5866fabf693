"""The values a converted graph is fixed at: every boolean that selects training or inference set to
inference, and what the user sets with ``--set NAME=VALUE``.

A training flag is a placeholder (with or without a default) or a variable, of type bool (or an integer:
Keras 1's `keras_learning_phase` was uint8), whose op name ends in a name such a flag has: is_training,
training, train, phase_train, mode, learning_phase, keras_learning_phase, ... Its inference value is
False (0), whatever the placeholder's default or the value the checkpoint saved (tflearn saves its
`is_training` variable as it was). ``--set NAME=VALUE`` sets any placeholder or variable to a value
instead (true / false, or a number: `--set keep_prob=1.0`), and overrides the rule. Each set node
becomes a Const of its type and shape, so the control flow it selects can be folded (controlflow.py).
"""
import re

import numpy as np

from shared.errors import UsageError

from .names import op_name

_FLAG_NAME = re.compile(r"^(is_?)?train(ing)?(_?(mode|phase|flag|ph|placeholder))?$|^phase(_?train(ing)?)?$|"
                        r"^(keras_)?learning_phase$|^mode$|^bn_?train(ing)?$|^use_?dropout$", re.I)
SETTABLE = ("Placeholder", "PlaceholderWithDefault", "VariableV2", "Variable", "VarHandleOp")
_BOOL_OR_INT = ("bool", "uint8", "int8", "int16", "int32", "int64")


def parse_settings(items):
    """['is_training=false', 'keep_prob=1'] -> {'is_training': False, 'keep_prob': 1.0}."""
    out = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name or not text:
            raise UsageError("--set %s: expected NAME=VALUE, e.g. --set is_training=false" % item)
        if name.endswith(":0"):
            name = name[:-2]
        low = text.lower()
        if low in ("true", "false"):
            value = low == "true"
        else:
            try:
                value = float(text)
            except ValueError:
                raise UsageError("--set %s: the value must be true, false or a number" % item)
        if name in out:
            raise UsageError("--set %s: %s is set twice" % (item, name))
        out[name] = value
    return out


def _dtype(node):
    import tensorflow as tf
    key = "dtype" if "dtype" in node.attr else ("T" if "T" in node.attr else None)
    if key is None:
        return None
    return tf.dtypes.as_dtype(node.attr[key].type).base_dtype


def is_training_flag(node):
    """A placeholder or variable that selects training vs inference (see the module's docstring)."""
    if node.op not in SETTABLE:
        return False
    dtype = _dtype(node)
    if dtype is None or dtype.name not in _BOOL_OR_INT:
        return False
    return bool(_FLAG_NAME.match(node.name.split("/")[-1]))


def _shape(node):
    """The node's static shape ([] for a scalar), or None when unknown."""
    for key in ("shape", "_output_shapes"):
        if key in node.attr:
            shape = node.attr[key].shape if key == "shape" else (
                node.attr[key].list.shape[0] if node.attr[key].list.shape else None)
            if shape is None or shape.unknown_rank:
                return None
            dims = [d.size for d in shape.dim]
            return dims if all(d >= 0 for d in dims) else None
    return None


def fix_values(graph_def, settings, fed, where, log=None):
    """Replace every placeholder that is a training flag (inference value) or --set by a Const; returns
    ({op name: value} of everything set, {variable op name: numpy value} for the variables set, which the
    checkpoint reader freezes at those values instead of the saved ones). `fed`: the input tensors, never
    set. Raises UsageError for a --set name that is no placeholder or variable of the graph."""
    from tensorflow.python.framework import tensor_util
    log = log or (lambda msg: None)
    by_name = dict((n.name, n) for n in graph_def.node)
    fed_ops = set(op_name(t) for t in fed or [])
    for name in settings:
        node = by_name.get(name)
        if node is None or node.op not in SETTABLE:
            flags = sorted(n.name for n in graph_def.node if is_training_flag(n))
            kinds = sorted(n.name for n in graph_def.node if n.op in ("Placeholder", "PlaceholderWithDefault"))
            raise UsageError("--set %s: %s has no placeholder or variable %r%s (placeholders: %s)"
                             % (name, where, name, " (it is a %s op)" % node.op if node is not None else "",
                                ", ".join((flags or kinds)[:8]) or "none"))
        if name in fed_ops:
            raise UsageError("--set %s: %s is also given as an input (--inputs)" % (name, name))
    done, variables = {}, {}
    for node in graph_def.node:
        if node.name in fed_ops:
            continue
        if node.name in settings:
            value, why = settings[node.name], "--set"
        elif is_training_flag(node):
            value, why = False, "a training flag, set to inference; --set %s=true to override" % node.name
        else:
            continue
        dtype = _dtype(node)
        if dtype.name == "bool":
            array = np.asarray(bool(value))
        elif dtype.is_floating or dtype.is_integer:
            array = np.asarray(value).astype(dtype.as_numpy_dtype)
            if dtype.is_integer and float(array) != float(value):
                raise UsageError("--set %s=%s: %s is %s" % (node.name, value, node.name, dtype.name))
        else:
            raise UsageError("--set %s: %s is of type %s, which cannot be set" % (node.name, node.name, dtype.name))
        shape = _shape(node)
        if shape:
            array = np.broadcast_to(array, shape).copy()
        done[node.name] = array.reshape(-1)[0].item() if array.size else value
        log("%s %s = %s (%s)" % (node.op, node.name, str(done[node.name]).lower()
                                 if isinstance(done[node.name], bool) else done[node.name], why))
        if node.op not in ("Placeholder", "PlaceholderWithDefault"):
            variables[node.name] = array
            continue
        node.op = "Const"
        node.ClearField("input")
        for key in list(node.attr.keys()):
            if key not in ("_output_shapes",):
                del node.attr[key]
        node.attr["dtype"].type = dtype.as_datatype_enum
        node.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(array, dtype=dtype))
    return done, variables
