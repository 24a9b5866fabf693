"""The graph reader's lowering: every DATA op of the cleaned graph through its handler (registered with
``@tf_op("Conv2D", ...)`` in the family modules of export_tf/handlers, beside the Keras handlers of the
same family), then the nodes placed under manifest names for the one manifest writer.

A graph handler is a pure function ``handler(view) -> Node`` (see export_tf/node.py): it reads the op's
attributes, the concrete shapes of its DATA inputs and outputs and the folded values of its STATIC inputs
(an OpView, graphdef/view.py) and returns one node built by make_node. It may absorb the op's single
consumer (a bias add after a convolution, an add after a multiply) with ``view.absorb_channel_add``; the
node then writes the consumer's output. ``Unsupported(reason)`` is collected over the whole graph and
reported once.
"""
import numpy as np

from shared.errors import UnsupportedError
from shared.unsupported import format_unsupported

from ..node import Unsupported, call_handler
from ..registry import supported_ops, tf_op_handler as handler_for
from .controlflow import REASON_ATTR
from .names import NameTable, clean_name, op_name
from .view import OpView, channel_vector  # noqa: F401  (channel_vector: the handlers' and tests' import)


CONTROL_FLOW_OPS = ("Switch", "Merge", "Enter", "Exit", "NextIteration", "LoopCond", "If", "StatelessIf",
                    "While", "StatelessWhile", "RefSwitch", "RefMerge")


def refuse_control_flow(graph, where, loops=None, refused=None):
    """Before the reference run (which cannot fetch the tensors of an untaken branch): control flow left
    on the data path (its predicate depends on the data, a random op or an unset placeholder, or a while
    loop that is not a recurrent layer's, loops.py; controlflow.py folded every constant one) is refused,
    each op named with its reason, together with every other op without a handler. loops, refused: what
    loops.find_loops found."""
    loops, refused = loops or {}, refused or {}
    skip = set(loops).union(*[loop.absorbed for loop in loops.values()])
    names = [n for n in graph.order if n + ":0" not in graph.alias and n not in skip]
    if not any(graph.nodes[n].op in CONTROL_FLOW_OPS for n in names):
        return
    entries = [(graph.nodes[n].op, n, refused.get(n) or _control_flow_reason(graph.nodes[n])
                if graph.nodes[n].op in CONTROL_FLOW_OPS else "") for n in names if handler_for(graph.nodes[n].op) is None]
    raise UnsupportedError(format_unsupported(where, entries, sorted(supported_ops())))


def _control_flow_reason(node):
    if REASON_ATTR in node.attr:
        why = node.attr[REASON_ATTR].s.decode("utf-8", "replace")
        return ("control flow that cannot be resolved statically: %s; only conditionals on training flags or "
                "constants are folded (--set NAME=VALUE fixes a placeholder)" % why)
    if node.op in ("Merge", "RefMerge"):
        return "control flow: a Merge whose inputs all stay live (a while loop, or a Switch refused above)"
    return "control flow: while loops are not supported"


def lower_graph(graph, values, where, loops=None):
    """Run every handler (a recurrent layer's While loop: loopnodes.cell_node). Returns [(TfNode, Node)] in
    graph order, each Node's inputs and outputs the TF tensors it reads and writes; raises
    UnsupportedError listing every unsupported op at once. loops: loops.find_loops' recognised loops."""
    outputs = set(graph.resolve(t) for t in graph.outputs)
    produced = set(graph.resolve(s.tensor) for s in graph.inputs)
    batch = next(iter(values[s.tensor] for s in graph.inputs)).shape[0]
    loops = loops or {}
    absorbed, unsupported, lowered, failed = set().union(*[l.absorbed for l in loops.values()]), [], [], set()
    for name in graph.order:
        node = graph.nodes[name]
        if name in absorbed or name + ":0" in graph.alias:
            continue
        view = OpView(graph, node, values, outputs)
        reads = list(loops[name].reads) if name in loops else view.data_inputs()    # a loop: its sequence, states
        if any(t.rsplit(":", 1)[0] in failed for t in reads):
            failed.add(name)
            continue    # an upstream op is unsupported; it is already reported
        handler = _loop_handler(loops[name], graph, values) if name in loops else handler_for(node.op)
        if handler is None:
            unsupported.append((node.op, name, ""))
            failed.add(name)
            continue
        try:
            _check_tensors(reads, view.values, produced, batch)
            result = call_handler(handler, view, "%s %r" % (node.op, name))
            result.inputs = view.data_inputs() if result.inputs is None else result.inputs
            _check_tensors(result.inputs, view.values, produced, batch)    # a recognised pattern's other inputs
            result.outputs = result.outputs or [view.output]
            _check_shape(result.outputs[0], values, batch)
        except Unsupported as exc:
            unsupported.append((node.op, name, str(exc)))
            failed.add(name)
            continue
        absorbed.update(result.absorbed)
        produced.update(result.outputs)     # a recurrent layer's node may write its final states too
        lowered.append((node, result))
    missing = [t for t in outputs if t not in produced]
    if unsupported:
        supported = sorted(supported_ops())
        raise UnsupportedError(format_unsupported(where, unsupported, supported))
    if missing:
        raise UnsupportedError("%s: output %s is not produced by any converted op" % (where, missing[0]))
    return lowered


def _loop_handler(loop, graph, values):
    """A recognised loop's (or Bidirectional pair's) handler: its node, confirmed on TF's values (loops.py)."""
    def handler(view):
        return loop.lower(graph, values)
    handler.__name__ = handler.__qualname__ = "lower"
    handler.__module__ = "export_tf.graphdef.loops"
    return handler


def _check_tensors(reads, values, produced, batch):
    for t in reads:
        if t not in produced:
            raise Unsupported("reads %s, which no converted op writes (only the first output of an op is "
                              "converted)" % t)
        _check_shape(t, values, batch)


def _check_shape(tensor, values, batch):
    value = values[tensor]
    if value.ndim == 0 or value.shape[0] != batch:
        raise Unsupported("tensor %s of shape %r does not keep the batch of %d in front"
                          % (tensor, tuple(value.shape), batch))
    if value.ndim not in (2, 3, 4):
        raise Unsupported("tensor %s of shape %r: only (N, C), (N, L, C) and (N, H, W, C) tensors are supported"
                          % (tensor, tuple(value.shape)))
    if value.dtype != np.float32:
        raise Unsupported("tensor %s is %s; only float32 tensors are supported" % (tensor, value.dtype))


def place(graph, lowered, values, loaded):
    """Manifest names for the lowered graph (readable, unique, from the TF names; the inputs and outputs
    keep the signature's names). Returns (inputs, outputs, placed nodes, values by tensor id): the one
    manifest writer's arguments (export_tf/manifest.py)."""
    names = NameTable()
    # inputs first: their names are the user-facing ones (signature arguments or placeholder names)
    inputs = [(names.tensor(spec.tensor, loaded.input_names.get(spec.tensor)), spec.tensor)
              for spec in graph.inputs]
    tensor_ids = dict((tf_t, tid) for tid, tf_t in inputs)

    def tid_of(tensor):
        tensor = graph.resolve(tensor)
        if tensor not in tensor_ids:
            tensor_ids[tensor] = names.tensor(tensor)
        return tensor_ids[tensor]

    nodes = []
    for tf_node, node in lowered:
        name = names.get(tf_node.name)
        outs = [tid_of(t) for t in node.outputs]
        nodes.append(node.place(name, tf_node.op, [tid_of(t) for t in node.inputs], outs))
    outputs = []
    for t in graph.outputs:
        tid = tid_of(t)
        # the signature's output name, else the op the user asked for (an Identity resolves to its input)
        label = loaded.output_names.get(t) or (op_name(t) if t.endswith(":0") else t)
        outputs.append((tid if clean_name(label) == tid else names.unique(label), tid))
    by_tid = dict((tid, values[tf_t]) for tf_t, tid in tensor_ids.items())
    return [(tid, tid) for tid, _ in inputs], outputs, nodes, by_tid
