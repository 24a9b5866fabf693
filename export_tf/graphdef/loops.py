"""While loops of the graph front end: a Keras recurrent layer's loop (LSTM, GRU with reset_after either
way, SimpleRNN; Keras 3 and tf_keras) becomes the one manifest node the Keras reader writes for the
layer (lstm / gru / simple_rnn, the same attributes and arrays in TF layout), so the importer is the same.

A SavedModel's frozen graph keeps each loop as one While op with a body function (load.py freezes a
graph with loops without lowering them). What Keras builds around it, and what is recognised here:

    x (N, T, C) -> Transpose [1, 0, 2] [-> ReverseV2 [0]: go_backwards] -> TensorListFromTensor
      -> While(counter, max, time, output list, initial states..., input list, kernel, recurrent kernel[, bias])
      -> TensorListStack -> Transpose [1, 0, 2]: every step (return_sequences), or -> StridedSlice: the
         last step; and the final states read straight from the While (return_state)

The initial states are zeros, or tensors of the model (initial_state), which the node then reads after
the sequence, h then c.

Two steps. find_loops (before the reference run, on the structure): the sequence input, the list
plumbing around the loop, the outputs used downstream, the loop's captured float inputs; anything else
is refused, naming the loop and what was found. cell_node (after the run, on TF's values): the cell is
found by computing candidates in numpy on the reference inputs the graph itself ran on, and the one that
reproduces the loop's own output (to 1e-5 of its range) is the node (loopnodes.py): the kind from the number of states
and the weights' shapes (4 gates and two states: LSTM; 3 gates: GRU, reset_after from the bias (2, 3U)
or (3U,), or two (3U,) biases: tf_keras' standard_gru; 1: SimpleRNN), which captured input is which
weight, and the activations among the ones Keras writes (sigmoid, tanh, relu, hard_sigmoid as Keras 3 or
Keras 2 computes it, linear). A loop no candidate reproduces is refused ("no ... cell reproduces what it
computes"): a wrong node is never written; the same search tells which final state read is h and which
c, and which given initial state. A Bidirectional is two such loops merged (Pair); with initial states
given, both loops read theirs, and its node reads the forward ones, then the backward ones (Keras' order).
"""
from ..node import Unsupported
from .loopnodes import cell_node, pair_node, why
from .names import op_name

LOOP_OPS = ("While", "StatelessWhile")
_FLOAT = 1              # DT_FLOAT


class Loop(object):
    """A While op laid out as a Keras recurrent layer's loop (structure only; cell_node confirms it)."""

    def __init__(self, node, x, perms, reverse_axis, output, last, absorbed, states, weights, finals=(), given=()):
        self.node = node                # the While TfNode
        self.x = x                      # the sequence (N, T, C) read
        self.perms = perms              # tensors holding the transposes' permutations (each must be [1, 0, 2])
        self.reverse_axis = reverse_axis    # tensor of ReverseV2's axis (go_backwards), or None
        self.output = output            # the output the model reads: (N, T, U) or (N, U); or None
        self.last = last                # whether it is the last step (N, U)
        self.finals = list(finals)      # the final states (h, c) the model reads (return_state)
        self.absorbed = absorbed        # op names the node replaces (the list plumbing)
        self.states = states            # tensors of the initial states: zeros, or given (data): initial_state
        self.reads = [x] + [t for t in states if t in given]    # the data tensors the node reads
        self.final_states = []          # the While's outputs of its states (h, c in input order), read or not
        self.weights = weights          # tensors of the captured float inputs
        self.body_ops = None            # the op types of its body function, if known
        self.loops = [self]

    def lower(self, graph, values):
        return cell_node(self, graph, values)


class Pair(object):
    """A Keras Bidirectional layer: a forward and a go_backwards loop over one sequence whose outputs one
    op merges (ConcatV2 on the last axis: concat, AddV2: sum, Mul: mul, AddV2 then halved: ave), the
    backward sequence re-reversed (ReverseV2 on time) first. Lowered at the merge op as one bidirectional
    node."""

    def __init__(self, forward, backward, merge, mode, reverse_axis, absorbed):
        self.forward, self.backward, self.merge, self.mode = forward, backward, merge, mode
        self.reverse_axis = reverse_axis    # tensor of the re-reversal's axis (sequences), or None
        self.x = forward.x
        self.reads = forward.reads + backward.reads[1:]     # initial_state: forward's states, then backward's
        self.absorbed = absorbed
        self.loops = [forward, backward]

    def lower(self, graph, values):
        return pair_node(self, graph, values)


class _Fed(object):
    op, name = "an input", ""


def _producer(graph, tensor):
    """The op writing `tensor` (a model input, whose op the cleaned graph does not hold: _Fed)."""
    return graph.writer(tensor) or _Fed()


def _only_reader(graph, tensor, name):
    users = set(n for n, _ in graph.consumers.get(graph.resolve(tensor), []))
    return users == set([name]) and graph.resolve(tensor) not in set(graph.resolve(t) for t in graph.outputs)


def find_loops(graph, library=None):
    """({While name: Loop}, {While name: reason refused}) for the While ops on the data path. library:
    the graph's function library (a body's op types narrow the cells searched; None: all searched)."""
    found, refused = {}, {}
    functions = dict((f.signature.name, f) for f in library.function) if library is not None else None
    for name in graph.order:
        node = graph.nodes[name]
        if node.op in LOOP_OPS and name + ":0" not in graph.alias:
            try:
                found[name] = _structure(graph, node)
            except Unsupported as exc:
                refused[name] = str(exc)
                continue
            found[name].body_ops = _body_ops(functions, node.attr["body"].func.name)
    return _pairs(graph, found), refused


def _body_ops(functions, name):
    """The op types of a function and the functions it calls, or None if one is not in the library."""
    ops, todo, seen = set(), [name], set()
    while todo:
        current = todo.pop()
        if functions is None or current not in functions:
            return None
        seen.add(current)
        for node in functions[current].node_def:
            ops.add(node.op)
            todo.extend(v.func.name for v in node.attr.values() if v.WhichOneof("value") == "func"
                        and v.func.name not in seen)
    return ops


_MERGES = {"ConcatV2": "concat", "AddV2": "sum", "Add": "sum", "Mul": "mul"}


def _pairs(graph, loops):
    """{anchor op: Loop or Pair}: the loops a Bidirectional merges, paired at their merge op."""
    by_output = dict((loop.output, loop) for loop in loops.values())
    out = dict(loops)
    for backward in loops.values():
        if backward.reverse_axis is None or backward.output is None:
            continue
        tensor, reverse_axis, extra = backward.output, None, []
        users = set(n for n, _ in graph.consumers.get(tensor, []))
        if len(users) == 1 and not backward.last and graph.nodes[list(users)[0]].op == "ReverseV2":
            reverse = graph.nodes[list(users)[0]]
            tensor, reverse_axis, extra = reverse.name + ":0", graph.resolve(reverse.inputs[1]), [reverse.name]
            users = set(n for n, _ in graph.consumers.get(tensor, []))
        if len(users) != 1 or not _only_reader(graph, backward.output, list(users)[0] if not extra else extra[0]):
            continue
        merge = graph.nodes[list(users)[0]]
        data = [graph.resolve(t) for t in merge.inputs if graph.is_data(graph.resolve(t))]
        forward = by_output.get(data[0]) if len(data) == 2 and data[1] == tensor else None
        if merge.op not in _MERGES or forward is None or forward.reverse_axis is not None \
                or len(forward.reads) != len(backward.reads) \
                or forward.x != backward.x \
                or not _only_reader(graph, forward.output, merge.name) or forward.node.name not in out:
            continue
        del out[forward.node.name], out[backward.node.name]
        absorbed = forward.absorbed + backward.absorbed + extra + [forward.node.name, backward.node.name]
        mode, halving = _MERGES[merge.op], _halving(graph, merge)
        if halving is not None:            # ave: the sum, then halved
            mode, absorbed, merge = "ave", absorbed + [merge.name], halving
        out[merge.name] = Pair(forward, backward, merge, mode, reverse_axis, absorbed)
    return out


def _halving(graph, merge):
    """The RealDiv or Mul by a constant that alone reads a sum (Keras' ave: (a + b) / 2; its value is
    checked after the run), else None."""
    users = set(n for n, _ in graph.consumers.get(merge.name + ":0", []))
    if _MERGES.get(merge.op) != "sum" or len(users) != 1 or merge.name + ":0" in graph.outputs:
        return None
    after = graph.nodes[list(users)[0]]
    if after.op not in ("RealDiv", "Mul") or len(after.inputs) != 2 or graph.is_data(graph.resolve(after.inputs[1])):
        return None
    return after if graph.resolve(after.inputs[0]) == merge.name + ":0" else None


def _structure(graph, node):
    inputs = [graph.resolve(t) for t in node.inputs]
    data = [i for i, t in enumerate(inputs) if graph.is_data(t)]
    lists = [i for i in data if _producer(graph, inputs[i]).op == "TensorListFromTensor"]
    if len(lists) > 1:
        raise Unsupported(why(node, "it unstacks %d sequences (a mask is one: Caffe has no masks)" % len(lists)))
    if not lists:
        raise Unsupported(why(node, "it reads %d tensors of the model's data, not one sequence unstacked by "
                                     "TensorListFromTensor" % len(data)))
    where = lists[0]
    unstack = _producer(graph, inputs[where])
    absorbed, perms, reverse_axis = [unstack.name], [], None
    source = _producer(graph, unstack.inputs[0])
    if source.op == "ReverseV2":
        if not _only_reader(graph, source.name + ":0", unstack.name):
            raise Unsupported(why(node, "its reversed sequence is read elsewhere too"))
        reverse_axis, absorbed = graph.resolve(source.inputs[1]), absorbed + [source.name]
        reader, source = source.name, _producer(graph, source.inputs[0])
    else:
        reader = unstack.name
    if source.op != "Transpose" or not _only_reader(graph, source.name + ":0", reader):
        raise Unsupported(why(node, "its sequence comes from %s %r, not from a transpose to time-major read "
                                     "by the loop alone" % (source.op, source.name)))
    perms.append(graph.resolve(source.inputs[1]))
    absorbed.append(source.name)
    x = graph.resolve(source.inputs[0])
    if not _only_reader(graph, inputs[where], node.name):
        raise Unsupported(why(node, "its unstacked sequence is read elsewhere too"))
    output, last, finals = _outputs(graph, node, perms, absorbed)
    types = list(node.attr["T"].list.type)
    floats = [i for i, t in enumerate(types) if t == _FLOAT and i < len(inputs)]
    states = [inputs[i] for i in floats if i < where]
    weights = [inputs[i] for i in floats if i > where]
    given = [t for t in states if graph.is_data(t)]
    final_states = ["%s:%d" % (node.name, i) for i in floats if i < where]     # output i: input i's final value
    if not states or [i for i in data if i != where] != [i for i in floats if i < where and graph.is_data(inputs[i])] \
            or len(given) not in (0, len(states)):
        raise Unsupported(why(node, "it reads data other than its sequence and its initial states, or some "
                                     "initial states only"))
    loop = Loop(node, x, perms, reverse_axis, output, last, absorbed, states, weights, finals, given)
    loop.final_states = final_states
    return loop


def _outputs(graph, node, perms, absorbed):
    """What the model reads of the loop: (every step or the last step, or None; whether it is the last;
    [the final states read directly: return_state])."""
    outs = set(graph.resolve(t) for t in graph.outputs)
    read = sorted(set(t for t in list(graph.consumers) + list(outs) if op_name(t) == node.name))
    found, finals = [], []
    for tensor in read:
        users = graph.consumers.get(tensor, [])
        if tensor in outs or any(graph.nodes[user].op != "TensorListStack" for user, _ in users):
            finals.append(tensor)
        for user, _ in users:
            reader = graph.nodes[user]
            if reader.op != "TensorListStack":
                continue
            stacked = reader.name + ":0"
            if stacked in outs:
                raise Unsupported(why(node, "its time-major stacked outputs are a model output"))
            absorbed.append(reader.name)
            for name in set(n for n, _ in graph.consumers.get(stacked, [])):
                after = graph.nodes[name]
                if after.op == "Transpose":
                    perms.append(graph.resolve(after.inputs[1]))
                    found.append((after.name + ":0", False))
                elif after.op == "StridedSlice":
                    found.append((after.name + ":0", True))
                else:
                    raise Unsupported(why(node, "its stacked outputs are read by %s %r" % (after.op, after.name)))
                absorbed.append(after.name)
    found = sorted(set(found))
    if len(found) > 1 or not (found or finals):
        raise Unsupported(why(node, "the model reads %s of its stacked outputs; one is supported (every step "
                                     "or the last step)" % (len(found) or "none")))
    if found:
        return found[0][0], found[0][1], finals
    return None, True, finals


def unfetchable(graph, loops):
    """Tensors the reference run must not fetch: the loops' lists and counters (variants, integers)."""
    out = set()
    for loop in [one for found in loops.values() for one in found.loops]:
        node = loop.node
        for index, kind in enumerate(node.attr["T"].list.type):
            if kind != _FLOAT:
                out.add("%s:%d" % (node.name, index))
                if index < len(node.inputs):
                    out.add(graph.resolve(node.inputs[index]))
        out.update(name + ":0" for name in loop.absorbed if graph.nodes[name].op == "TensorListFromTensor")
    return out


def state_fetches(loops):
    """The loops' final states, fetched by the reference run even if the model reads one only (an LSTM's
    node with return_state writes h and c)."""
    return sorted(set(t for found in loops.values() for one in found.loops for t in getattr(one, "final_states", ())))
