"""Per-step layers of the graph front end: TimeDistributed as the two Kerases write it into a graph.

* tf_keras: Reshape (N, T, C) -> (N * T, C), the wrapped layer's ops on the rows, Reshape back to
  (N, T, D). The rows are the steps: every tensor between the two reshapes is read as (N, T, ...) (TF's
  values reshaped; the reshapes become identities), so the wrapped layer's ops lower as they do on a
  sequence (a MatMul by a constant matrix is a dense layer on the last axis). Only ops whose every
  output keeps the N * T rows are taken (anything mixing rows changes that count or is refused later).
* Keras 3: Transpose to time-major, one StridedSlice per step, the wrapped layer's ops once per step,
  Pack of the steps and Transpose back. The first step's ops stand for all: they read the sequence
  itself and their values are the T steps' values stacked (N, T, ...); every other step's ops, the
  slices, the Pack and the transposes are skipped (the output is the first step's chain). Every step's
  chain must be the same ops on the same constants (checked on TF's values), else nothing is folded.

Either way every lowered node is then checked by the importer against TF's own values of every step.
"""
import numpy as np

from .names import op_name


class Skipped(object):
    """The ops a folded Keras 3 TimeDistributed leaves out (lower.py skips a pattern's absorbed ops)."""

    def __init__(self, absorbed):
        self.absorbed = absorbed
        self.loops = []


def fold_steps(graph, values, batch):
    """Fold every TimeDistributed found (values and graph aliases changed in place); returns {key: Skipped}."""
    _fold_rows(graph, values, batch)
    skipped = {}
    for name in list(graph.order):
        node = graph.nodes[name]
        if node.op == "Pack" and name + ":0" not in graph.alias:
            absorbed = _fold_unrolled(graph, values, batch, node)
            if absorbed:
                skipped["timesteps:" + name] = Skipped(absorbed)     # a key no op has: never lowered itself
    return skipped


def _static(graph, values, tensor):
    tensor = graph.resolve(tensor)
    return None if graph.is_data(tensor) or tensor not in values else np.asarray(values[tensor])


def _perm_is_time_major(graph, values, node):
    perm = _static(graph, values, node.inputs[1]) if node.op == "Transpose" else None
    return perm is not None and [int(p) for p in perm.reshape(-1)][:2] == [1, 0] and \
        [int(p) for p in perm.reshape(-1)][2:] == list(range(2, perm.size))


def _chain(graph, end, stop):
    """The data ops from `end`'s op back to the op `stop` (excluded) in graph order, each reading only the
    chain or `stop`; None if another data tensor is read."""
    ops, todo = set(), [op_name(graph.resolve(end))]
    while todo:
        name = todo.pop()
        if name == stop or name in ops:
            continue
        if name not in graph.nodes:
            return None
        ops.add(name)
        for t in graph.nodes[name].inputs:
            if graph.is_data(graph.resolve(t)):
                todo.append(op_name(graph.resolve(t)))
    order = [n for n in graph.order if n in ops and n + ":0" not in graph.alias]
    return order if len(order) == len([n for n in ops if n + ":0" not in graph.alias]) else None


def _signature(graph, values, chain, stop):
    """What each op of a chain computes: its type, attributes, where its data inputs come from (position
    in the chain, -1: the step's slice) and its constants."""
    position = dict((name, i) for i, name in enumerate(chain))
    out = []
    for name in chain:
        node = graph.nodes[name]
        wiring, constants = [], []
        for t in node.inputs:
            t = graph.resolve(t)
            if graph.is_data(t):
                wiring.append((-1 if op_name(t) == stop else position.get(op_name(t), -2), t.rsplit(":", 1)[1]))
            else:
                constants.append(_static(graph, values, t))
        attrs = sorted((k, v.SerializeToString()) for k, v in node.attr.items())
        out.append((node.op, attrs, wiring, constants))
    return out


def _same(one, other):
    if len(one) != len(other):
        return False
    for (op, attrs, wiring, consts), (op2, attrs2, wiring2, consts2) in zip(one, other):
        if op != op2 or attrs != attrs2 or wiring != wiring2 or len(consts) != len(consts2):
            return False
        if any(a is None or b is None or a.shape != b.shape or not np.array_equal(a, b) for a, b in zip(consts, consts2)):
            return False
    return True


def _fold_unrolled(graph, values, batch, pack):
    """Keras 3's unrolled TimeDistributed ending in `pack`; returns the ops to skip, or None."""
    if int(pack.attr["axis"].i) != 0:
        return None
    users = _data_consumers(graph, pack.name + ":0")
    back = graph.nodes[users[0]] if len(users) == 1 else None
    if back is None or not _perm_is_time_major(graph, values, back):
        return None
    slices, chains, front = [], [], None
    for step, end in enumerate(pack.inputs):
        end = graph.resolve(end)
        found = _step_slice(graph, values, end, step)
        if found is None:
            return None
        cut, transpose = found
        if front is None:
            front = transpose
        if transpose.name != front.name:
            return None
        chain = _chain(graph, end, cut.name)
        if chain is None:
            return None
        slices.append(cut)
        chains.append(chain)
    x = graph.resolve(front.inputs[0])
    steps = len(chains)
    if not _perm_is_time_major(graph, values, front) or values[x].shape[:2] != (batch, steps) \
            or set(_data_consumers(graph, front.name + ":0")) != set(s.name for s in slices):
        return None
    signatures = [_signature(graph, values, chain, cut.name) for chain, cut in zip(chains, slices)]
    if not all(_same(signatures[0], other) for other in signatures[1:]):
        return None
    for index, name in enumerate(chains[0]):
        for t in [t for t in list(values) if op_name(t) == name and graph.is_data(t)]:
            k = t.rsplit(":", 1)[1]
            values[t] = np.stack([values["%s:%s" % (chain[index], k)] for chain in chains], axis=1)
    first, end = slices[0].name + ":0", graph.resolve(pack.inputs[0])
    graph.alias[first] = x
    graph.consumers.setdefault(x, []).extend(graph.consumers.pop(first, []))
    graph.alias[back.name + ":0"] = end
    graph.consumers[end] = graph.consumers.pop(back.name + ":0", [])
    skipped = [front.name, pack.name] + [s.name for s in slices[1:]] + [n for chain in chains[1:] for n in chain]
    return skipped


def _step_slice(graph, values, end, step):
    """The StridedSlice taking step `step` of a time-major transpose that `end`'s chain starts from:
    (slice, transpose), else None."""
    todo, seen = [op_name(end)], set()
    while todo:
        name = todo.pop()
        if name in seen or name not in graph.nodes:
            continue
        seen.add(name)
        node = graph.nodes[name]
        source = graph.writer(node.inputs[0]) if node.inputs else None
        if node.op == "StridedSlice" and source is not None and source.op == "Transpose":
            begin = _static(graph, values, node.inputs[1])
            if begin is None or int(begin.reshape(-1)[0]) != step or not int(node.attr["shrink_axis_mask"].i) & 1:
                return None
            return node, source
        todo.extend(op_name(graph.resolve(t)) for t in node.inputs if graph.is_data(graph.resolve(t)))
    return None


def _data_consumers(graph, tensor):
    return sorted(set(n for n, _ in graph.consumers.get(graph.resolve(tensor), [])))


def _fold_rows(graph, values, batch):
    for name in graph.order:
        node = graph.nodes[name]
        if node.op != "Reshape" or name + ":0" in graph.alias or not graph.is_data(graph.resolve(node.inputs[0])):
            continue
        src, out = values.get(graph.resolve(node.inputs[0])), values.get(name + ":0")
        if src is None or out is None or src.ndim < 3 or out.shape[0] != batch * src.shape[1] \
                or src.shape[0] != batch or out.shape[1:] != src.shape[2:]:
            continue
        steps = src.shape[1]
        inside, ends, todo, ok = set([name + ":0"]), [], [name + ":0"], True
        while todo and ok:
            for user in _data_consumers(graph, todo.pop()):
                reader = graph.nodes[user]
                outs = [t for t in graph.data if op_name(t) == user and t in values]
                if reader.op == "Reshape" and values[user + ":0"].shape[:2] == (batch, steps):
                    ends.append(user)
                    continue
                if not outs or any(values[t].ndim < 1 or values[t].shape[0] != batch * steps for t in outs):
                    ok = False
                    break
                for t in outs:
                    if t not in inside:
                        inside.add(t)
                        todo.append(t)
        if not ok or not ends or any(t in set(graph.resolve(o) for o in graph.outputs) for t in inside):
            continue
        for t in inside:
            values[t] = values[t].reshape((batch, steps) + values[t].shape[1:])
