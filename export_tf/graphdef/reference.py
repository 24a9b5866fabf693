"""Reference values from the TF graph itself: one session run of the frozen, pruned graph fetches every
DATA tensor (the per-tensor activations and the outputs) and every STATIC tensor a DATA node reads (the
folded constants: weights, paddings, axes, shapes)."""
import numpy as np

from shared.errors import ModelLoadError, UsageError

from .. import domains
from . import lookups
from .names import op_name


def placeholder_shape(graph_def, tensor):
    """The static shape of a fed tensor as a list (None for unknown dims), or None if unknown rank."""
    import tensorflow as tf
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    t = graph.get_tensor_by_name(tensor)
    if t.shape.rank is None:
        return None, t.dtype
    return list(t.shape.as_list()), t.dtype


_KEEP_VALUES = ("Reshape", "ExpandDims", "Squeeze")
_SCALE_OPS = ("Mul", "RealDiv")
_OFFSET_OPS = ("Add", "AddV2", "BiasAdd", "Sub")


def _constant(graph, tensor):
    """The number a Const op holds (through identities and Casts: Keras' Rescaling casts its offset),
    else None."""
    node = graph.writer(tensor)
    while node is not None and node.op == "Cast" and len(node.inputs) == 1 and not graph.is_data(tensor):
        tensor = node.inputs[0]
        node = graph.writer(tensor)
    if node is None or node.op != "Const" or graph.is_data(tensor):
        return None
    import tensorflow as tf
    value = np.asarray(tf.make_ndarray(node.attr["value"].tensor), dtype=np.float64).reshape(-1)
    return float(value[0]) if value.size and np.all(value == value[0]) else None


def _short(name):
    """An op's name as the report shows it: its last two scopes (a SavedModel's names run long)."""
    return "/".join(name.split("/")[-2:])


def _sole_consumer(graph, tensor):
    users = graph.consumers.get(graph.resolve(tensor), [])
    names = set(name for name, _ in users)
    return graph.nodes[users[0][0]] if len(names) == 1 else None


def input_domain(graph, spec):
    """The Domain of a graph input (export_tf/domains.py). A graph has no Embedding the reader converts
    (and its inputs are float32), so the rule that applies is the pixel front end: x * s (x / s) and an
    optional + o (- o) with constant numbers, right after the placeholder and its reshapes."""
    tensor, node = spec.tensor, _sole_consumer(graph, spec.tensor)
    while node is not None and node.op in _KEEP_VALUES:
        tensor, node = node.name + ":0", _sole_consumer(graph, node.name + ":0")
    if node is None or node.op not in _SCALE_OPS or len(node.inputs) != 2:
        return domains.real()
    other = [t for t in node.inputs if graph.resolve(t) != graph.resolve(tensor)]
    value = _constant(graph, other[0]) if len(other) == 1 else None
    if not value:
        return domains.real()
    if node.op == "RealDiv" and graph.resolve(node.inputs[1]) != graph.resolve(other[0]):
        return domains.real()           # c / x is no scaling
    scale = 1.0 / value if node.op == "RealDiv" else value
    offset, what, after = 0.0, "%s %s" % (node.op, _short(node.name)), _sole_consumer(graph, node.name + ":0")
    if after is not None and after.op in _OFFSET_OPS and len(after.inputs) == 2:
        rest = [t for t in after.inputs if graph.resolve(t) != graph.resolve(node.name + ":0")]
        number = _constant(graph, rest[0]) if len(rest) == 1 else None
        if number is not None and not (after.op == "Sub" and after.inputs[0] == rest[0]):
            offset = -number if after.op == "Sub" else number
            what += " and %s %s" % (after.op, _short(after.name))
    return domains.graph_domain(scale, offset, what)


def make_feeds(graph_def, specs, batch, seed, input_shape=None, provided=None, graph=None):
    """({tensor: float32 array} for every input: the user's arrays, or seeded values drawn from each
    input's domain; {tensor: Domain}). graph: the cleaned graph the domains are read from (None: every
    input REAL)."""
    rng = np.random.default_rng(seed)
    feeds, found = {}, {}
    for index, spec in enumerate(specs):
        shape, dtype = placeholder_shape(graph_def, spec.tensor)
        if dtype.name != "float32" and not dtype.is_integer:
            raise UsageError("input %s is %s; only float32 inputs and integer ids are supported"
                             % (spec.tensor, dtype.name))
        given = spec.shape or (list(input_shape) if input_shape is not None and len(specs) == 1 else None)
        if given is not None:
            if shape is not None and len(shape) != len(given) + 1:
                raise UsageError("input %s has rank %d (with the batch); the shape given, %s, has %d dims "
                                 "without the batch" % (spec.tensor, len(shape), "x".join(map(str, given)),
                                                        len(given)))
            if shape is not None and any(d is not None and d != g for d, g in zip(shape[1:], given)):
                raise UsageError("input %s has shape %r; the shape given, %s, contradicts it"
                                 % (spec.tensor, shape, "x".join(map(str, given))))
            shape = [shape[0] if shape else None] + list(given)
        if shape is None or any(d is None for d in shape[1:]):
            raise UsageError("input %s has unknown dimensions %r; give them as --inputs %s:HxWxC (without "
                             "the batch)" % (spec.tensor, shape, op_name(spec.tensor)))
        n = shape[0] if shape[0] is not None else batch
        if graph is None:
            domain = domains.real() if not dtype.is_integer else domains.ids(domains.DEFAULT_ID_RANGE, "integer")
        else:       # integer ids: the embedding lookups they reach (lookups.py)
            domain = lookups.input_domain(graph, spec.tensor) if dtype.is_integer else input_domain(graph, spec)
        found[spec.tensor] = domain
        if provided is not None:
            key = next((k for k in (spec.tensor, op_name(spec.tensor), index) if k in provided), None)
            if key is None:
                raise UsageError("reference inputs have no array for input %s" % spec.tensor)
            value = np.asarray(provided[key], dtype=np.float32)
            if list(value.shape[1:]) != shape[1:] or (shape[0] is not None and value.shape[0] != shape[0]):
                raise UsageError("reference input for %s has shape %r, expected %r"
                                 % (spec.tensor, value.shape, [n] + shape[1:]))
            domains.check_given(spec.tensor, domain, value)
            feeds[spec.tensor] = value
        else:
            feeds[spec.tensor] = domains.draw(domain, [n] + shape[1:], rng)
        if dtype.is_integer:
            feeds[spec.tensor] = feeds[spec.tensor].astype(dtype.as_numpy_dtype)    # TF is fed the ids as ints
    sizes = set(v.shape[0] for v in feeds.values())
    if len(sizes) != 1:
        raise UsageError("the inputs have different batch sizes %s" % sorted(sizes))
    return feeds, found


def run(graph_def, feeds, fetches):
    """One session run; returns {tensor name: numpy value} for every fetch."""
    import tensorflow as tf
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(_without_control_inputs(graph_def), name="")
    fetches = list(fetches)
    # Grappler off: its rewrites may fuse ops away (max(0.2 * x, x) becomes one LeakyRelu, whose Mul then
    # cannot be fetched) and change the numerics; every fetched tensor must be the op's own result
    config = tf.compat.v1.ConfigProto()
    config.graph_options.rewrite_options.disable_meta_optimizer = True
    with tf.compat.v1.Session(graph=graph, config=config) as sess:
        try:
            values = sess.run(fetches, feed_dict=feeds)
        except Exception as exc:
            text = str(exc).strip().splitlines()
            raise ModelLoadError("TensorFlow could not run the graph (%s: %s)"
                                 % (type(exc).__name__, text[0] if text else ""))
    return dict((t, np.asarray(v)) for t, v in zip(fetches, values))


def _without_control_inputs(graph_def):
    """A copy without control edges: the pruned graph drops the ops they point at (savers, NoOps)."""
    import tensorflow as tf
    out = tf.compat.v1.GraphDef()
    out.CopyFrom(graph_def)
    for node in out.node:
        keep = [i for i in node.input if not i.startswith("^")]
        del node.input[:]
        node.input.extend(keep)
    return out
