"""Keras layers whose computation is TF code rather than a layer class: Keras 2's operator layers
(`TFOpLambda` for `tf.nn.relu6(x)` or `tf.concat(...)` written in a functional model, `SlicingOpLambda`
for `x[:, 1:]`) and, for a file the user trusts (--trust-lambda), `Lambda` layers.

Each call is traced into a TF graph on its inputs' concrete shapes (`tf.function`, variables frozen), and
that graph goes through the graph front end as a SavedModel's would (export_tf/graphdef: clean, one TF
run, the TF-op handlers of export_tf/handlers): the layer becomes the manifest nodes of its ops, named
`<layer>/<op>`, reading the layer's input tensors and writing its outputs. A TF op without a handler makes
the layer unsupported, with the op named.
"""
import re

import numpy as np

from shared.errors import UnsupportedError

from .node import Unsupported, make_node

TRACED = ("TFOpLambda", "SlicingOpLambda", "Lambda")


def _map_structure(func, structure):
    import tensorflow as tf
    return tf.nest.map_structure(func, structure)


def _trace(gnode, values):
    """(frozen GraphDef, its input placeholders in gnode.inputs order, its output tensors)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
    specs = [tf.TensorSpec((None,) + tuple(values[tid].shape[1:]), tf.float32) for tid in gnode.inputs]

    def call(*xs):
        lookup = dict(zip(gnode.inputs, xs))

        def fill(x):
            key = gnode.input_keys.get(id(x))
            return lookup[key] if key is not None else x
        args = _map_structure(fill, list(gnode.call_args))
        kwargs = _map_structure(fill, dict(gnode.call_kwargs))
        kwargs.pop("training", None)
        out = gnode.layer(*args, **kwargs)
        return list(out) if isinstance(out, (list, tuple)) else [out]
    concrete = tf.function(call).get_concrete_function(*specs)
    frozen = convert_variables_to_constants_v2(concrete)
    return frozen.graph.as_graph_def(), [t.name for t in frozen.inputs], [t.name for t in frozen.outputs]


def lower_traced(gnode, values):
    """[placed Node] for one traced layer call; adds the values of its inner tensors to `values` (by
    their manifest ids). Raises Unsupported naming the TF ops without a handler."""
    from .graphdef.clean import clean
    from .graphdef.lower import lower_graph, refuse_control_flow
    from .graphdef.names import InputSpec, clean_name
    from .graphdef.reference import run
    where = "%s %r" % (type(gnode.layer).__name__, gnode.name)
    try:
        graph_def, placeholders, outs = _trace(gnode, values)
    except Exception as exc:
        raise Unsupported("its TF code could not be traced (%s: %s)" % (type(exc).__name__,
                                                                        str(exc).strip().split("\n")[0][:200]))
    if len(outs) != len(gnode.outputs):
        raise Unsupported("traced to %d outputs, the layer has %d" % (len(outs), len(gnode.outputs)))
    try:
        graph = clean(graph_def, [InputSpec(p) for p in placeholders], outs, where)
        refuse_control_flow(graph, where)
        feeds = dict((p, values[tid]) for p, tid in zip(placeholders, gnode.inputs))
        fetches = sorted(t for t in graph.data if t not in graph.alias and t not in feeds)
        fetches += [t for t in graph.static_inputs() if t not in graph.data]
        traced = run(graph_def, feeds, fetches)
        traced.update(feeds)
        lowered = lower_graph(graph, traced, where)
    except UnsupportedError as exc:
        text = str(exc).split("\n")
        raise Unsupported("its traced TF ops: %s" % "; ".join(line.strip() for line in text[1:3] if line.strip()))
    ids = dict((graph.resolve(p), tid) for p, tid in zip(placeholders, gnode.inputs))
    for t, tid in zip(outs, gnode.outputs):
        if graph.resolve(t) not in ids:
            ids[graph.resolve(t)] = tid

    def tid_of(tensor):
        tensor = graph.resolve(tensor)
        if tensor not in ids:
            ids[tensor] = "%s/%s" % (gnode.name, clean_name(tensor[:-2] if tensor.endswith(":0") else tensor))
            values[ids[tensor]] = np.asarray(traced[tensor], dtype=np.float32)
        return ids[tensor]
    placed, taken = [], set()
    scope = re.compile(r"^%s(_\d+)?/" % re.escape(gnode.layer.name))     # the layer's own name scope
    for tf_node, node in lowered:
        name = "%s/%s" % (gnode.name, clean_name(scope.sub("", tf_node.name)))
        while name in taken:
            name += "_"
        taken.add(name)
        placed.append(node.place(name, tf_node.op, [tid_of(t) for t in node.inputs],
                                 [tid_of(t) for t in node.outputs]))
    produced = set(t for n in placed for t in n.outputs)
    inputs = dict((graph.resolve(p), tid) for p, tid in zip(placeholders, gnode.inputs))
    for t, tid in zip(outs, gnode.outputs):
        if tid in produced:
            continue
        source = inputs.get(graph.resolve(t))       # the layer returns one of its inputs unchanged
        if source is None:
            raise Unsupported("its output %s is produced by no converted op" % t)
        placed.append(make_node("identity", {}).place("%s/identity" % gnode.name, "Identity", [source], [tid]))
    return placed
