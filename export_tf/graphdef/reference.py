"""Reference values from the TF graph itself: one session run of the frozen, pruned graph fetches every
DATA tensor (the per-tensor activations and the outputs) and every STATIC tensor a DATA node reads (the
folded constants: weights, paddings, axes, shapes)."""
import numpy as np

from shared.errors import ModelLoadError, UsageError

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


def make_feeds(graph_def, specs, batch, seed, input_shape=None, provided=None):
    """{tensor: float32 array} for every input: the user's arrays, or seeded standard-normal values."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for index, spec in enumerate(specs):
        shape, dtype = placeholder_shape(graph_def, spec.tensor)
        if dtype.name != "float32":
            raise UsageError("input %s is %s; only float32 inputs are supported" % (spec.tensor, dtype.name))
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
        if provided is not None:
            key = next((k for k in (spec.tensor, op_name(spec.tensor), index) if k in provided), None)
            if key is None:
                raise UsageError("reference inputs have no array for input %s" % spec.tensor)
            value = np.asarray(provided[key], dtype=np.float32)
            if list(value.shape[1:]) != shape[1:] or (shape[0] is not None and value.shape[0] != shape[0]):
                raise UsageError("reference input for %s has shape %r, expected %r"
                                 % (spec.tensor, value.shape, [n] + shape[1:]))
            feeds[spec.tensor] = value
        else:
            feeds[spec.tensor] = rng.standard_normal([n] + shape[1:]).astype(np.float32)
    sizes = set(v.shape[0] for v in feeds.values())
    if len(sizes) != 1:
        raise UsageError("the inputs have different batch sizes %s" % sorted(sizes))
    return feeds


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
