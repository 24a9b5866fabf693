"""The manifest node of a While loop loops.py recognised, confirmed on TF's values (the step after the
reference run): cell_node for one loop (the cell found by cells.best_cell, the tensors Keras' return_state
writes), pair_node for a Bidirectional's two loops merged."""
import numpy as np

from ..node import Unsupported, make_node
from .cells import best_cell


def why(node, text):
    """The reason a loop (or the op merging two) is refused, naming it."""
    return "%s %r is not a Keras recurrent layer's loop: %s" % (node.op, node.name, text)


def cell_node(loop, graph, values):
    """The manifest node of a recognised loop, confirmed against TF's values; Unsupported otherwise."""
    node = loop.node
    for perm in loop.perms:
        if [int(p) for p in np.asarray(values[perm]).reshape(-1)] != [1, 0, 2]:
            raise Unsupported(why(node, "a transpose around it permutes %r, not time and batch"
                                   % np.asarray(values[perm]).tolist()))
    backwards = False
    if loop.reverse_axis is not None:
        if [int(a) for a in np.asarray(values[loop.reverse_axis]).reshape(-1)] not in ([0], [-3]):
            raise Unsupported(why(node, "it reverses its sequence along another axis than time"))
        backwards = True
    x = np.asarray(values[loop.x])
    states = [np.asarray(values[t]) for t in loop.states]
    weights = [np.asarray(values[t], np.float32) for t in loop.weights]
    if x.ndim != 3 or any(s.ndim != 2 or s.shape[0] != x.shape[0] for s in states):
        raise Unsupported(why(node, "it reads %r with states %r; a sequence (N, T, C) and (N, units) states "
                                     "are expected" % (x.shape, [s.shape for s in states])))
    if len(states) > 2 or (len(loop.reads) == 1 and any(np.any(s) for s in states)):
        raise Unsupported(why(node, "its %d initial states are not zeros" % len(states)))
    main = None if loop.output is None else np.asarray(values[loop.output], np.float64)
    finals = [np.asarray(values[t], np.float64) for t in loop.finals]
    orders = [None] if len(loop.reads) == 1 else [[0, 1], [1, 0]] if len(states) == 2 else [[0]]
    for order in orders:        # initial states given: which is h, which c
        initial = None if order is None else [states[i] for i in order]
        best = best_cell(states, weights, x, backwards, loop.last, main, finals, initial, loop.body_ops)
        if best is not None:
            break
    if best is None:
        raise Unsupported(why(node, "no LSTM, GRU or SimpleRNN cell with Keras' activations reproduces what "
                                     "it computes (its outputs checked on the reference inputs)"))
    op, attrs, arrays, roles = best
    outputs = _node_outputs(loop, op, dict(zip(roles, loop.finals)), values)
    reads = [loop.x] + ([] if order is None else [loop.states[i] for i in order])
    made = make_node(op, dict(attrs, return_state=len(outputs) > 1), dict(arrays), inputs=reads,
                     output=outputs[0], absorbed=loop.absorbed)
    made.outputs = outputs
    return made


def _node_outputs(loop, op, finals, values):
    """The tensors the node writes: Keras' [output, h(, c)] with return_state, else [output]. With
    return_state, an output or h the model does not read is the other one's tensor under a name of its
    own (the same values: TF's); an LSTM's c the model does not read is the loop's other final state."""
    node = loop.node
    if not finals:
        return [loop.output]
    if op == "lstm" and "c" not in finals and "h" in finals:
        finals = dict(finals, c=[t for t in loop.final_states if t != finals["h"]][0])    # fetched: state_fetches
    if "h" not in finals and not (loop.last and loop.output is not None):
        raise Unsupported(why(node, "the model reads its final c alone with every step (return_state: the "
                                     "final h is needed too)"))
    main = loop.output
    h = finals.get("h")
    if main is None:
        main = "%s/last_step:0" % node.name
        values[main] = values[h]
    if h is None:
        h = "%s/final_h:0" % node.name
        values[h] = values[main]
    return [main, h] + ([finals["c"]] if op == "lstm" else [])


def pair_node(pair, graph, values):
    """A Bidirectional's node: both loops confirmed (cell_node), one cell and setting, the merge checked."""
    forward, backward = cell_node(pair.forward, graph, values), cell_node(pair.backward, graph, values)
    back = dict(backward.attrs, go_backwards=not backward.attrs["go_backwards"])
    if forward.op != backward.op or back != forward.attrs:
        raise Unsupported(why(pair.merge, "it merges a %s and a %s loop of other settings" % (forward.op, backward.op)))
    if pair.reverse_axis is not None and \
            [int(a) for a in np.asarray(values[pair.reverse_axis]).reshape(-1)] not in ([1], [-2]):
        raise Unsupported(why(pair.merge, "the backward sequence is reversed along another axis than time"))
    if pair.mode == "ave":
        factor = np.asarray(values[graph.resolve(pair.merge.inputs[1])], np.float64).reshape(-1)
        if factor.size != 1 or float(factor[0]) != (2.0 if pair.merge.op == "RealDiv" else 0.5):
            raise Unsupported(why(pair.merge, "it scales the sum of the two directions by %r, not by one half"
                                   % factor.tolist()))
    if pair.mode == "concat":
        rank = np.asarray(values[pair.merge.name + ":0"]).ndim
        if int(np.asarray(values[graph.resolve(pair.merge.inputs[-1])]).reshape(-1)[0]) % rank != rank - 1:
            raise Unsupported(why(pair.merge, "it concatenates the two directions along another axis than the last"))
    attrs = dict(forward.attrs, direction="bidirectional", merge_mode=pair.mode)
    arrays = dict(forward.arrays)
    arrays.update(("backward_" + role, value) for role, value in backward.arrays.items())
    inputs = forward.inputs + backward.inputs[1:]      # the sequence, then Keras' forward and backward states
    made = make_node(forward.op, attrs, arrays, inputs=inputs, output=pair.merge.name + ":0",
                     absorbed=pair.absorbed)
    made.outputs = made.outputs + forward.outputs[1:] + backward.outputs[1:]    # return_state: h(, c) each way
    return made
