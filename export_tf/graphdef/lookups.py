"""Embedding lookups of the graph front end: an integer model input read by a GatherV2 (or ResourceGather)
of a constant table (V, D) on axis 0 is the embedding node the Keras reader writes for an Embedding, so
SavedModels of models that start with one (a char-level classifier, a tagger over token ids) convert.

Keras 3 wraps negative ids before the gather: SelectV2(Less(x, 0), AddV2(x, V), x); those integer ops
are absorbed into the node. The reference inputs of such an input are ids drawn from [0, V) (the smallest
table among the lookups that read it; export_tf/domains.py), on which the wrap changes nothing; the ids
reach the bundle, as from the Keras reader, as a float blob of integral values. The table's size and
the gather's axis and batch_dims are checked after the run; any other reading of an integer input is
refused by lower.py's float32 check, naming it.
"""
import numpy as np

from .. import domains
from ..node import Unsupported, make_node
from .clean import IDENTITY_OPS

GATHER_OPS = ("GatherV2", "ResourceGather")


class Lookup(object):
    """One gather of a constant table by a model input's ids."""

    def __init__(self, node, x, absorbed):
        self.node = node            # the gather TfNode
        self.x = x                  # the integer model input it reads
        self.reads = [x]
        self.absorbed = absorbed    # the negative-id wrap's ops
        self.loops = []             # (none: the reference run may fetch everything)

    def lower(self, graph, values):
        return lookup_node(self, graph, values)


def _ids_source(graph, tensor):
    """(the model input the ids are, [ops of Keras 3's negative-id wrap]) or (None, [])."""
    inputs = set(graph.resolve(s.tensor) for s in graph.inputs)
    tensor = graph.resolve(tensor)
    if tensor in inputs:
        return tensor, []
    select = graph.writer(tensor)
    if select is None or select.op not in ("SelectV2", "Select") or len(select.inputs) != 3:
        return None, []
    less, add, x = (graph.writer(t) for t in select.inputs)
    x = graph.resolve(select.inputs[2])
    if x not in inputs or less is None or add is None or less.op != "Less" or add.op not in ("AddV2", "Add") \
            or graph.resolve(less.inputs[0]) != x or graph.resolve(add.inputs[0]) != x:
        return None, []
    return x, [less.name, add.name, select.name]


def _params(graph, node):
    return graph.resolve(node.inputs[0])


def find_lookups(graph):
    """{gather op name: Lookup} for every gather of a table by a model input's ids."""
    found = {}
    for name in graph.order:
        node = graph.nodes[name]
        if node.op in GATHER_OPS and len(node.inputs) >= 2 and not graph.is_data(_params(graph, node)):
            x, absorbed = _ids_source(graph, node.inputs[1])
            if x is not None:
                found[name] = Lookup(node, x, absorbed)
    return found


def _rows(graph, node):
    """The table's row count from its Const's declared shape (before the run), else None."""
    const = graph.writer(_params(graph, node))
    while const is not None and const.op in IDENTITY_OPS and const.inputs:     # static: not aliased
        const = graph.writer(const.inputs[0])
    if const is None or const.op != "Const":
        return None
    dims = const.attr["value"].tensor.tensor_shape.dim
    return int(dims[0].size) if dims else None


def input_domain(graph, tensor):
    """The Domain of an integer model input: ids below the smallest table it looks up."""
    rows = [(_rows(graph, lookup.node), lookup.node.name) for lookup in find_lookups(graph).values()
            if lookup.x == graph.resolve(tensor)]
    rows = [(r, n) for r, n in rows if r]
    if not rows:
        return domains.ids(domains.DEFAULT_ID_RANGE, "declared with an integer dtype; reaches no embedding lookup")
    rows.sort()
    return domains.ids(rows[0][0], "reaches the embedding lookup %s (a table of %d rows)" % (rows[0][1], rows[0][0]))


def lookup_node(lookup, graph, values):
    node = lookup.node
    table = np.asarray(values[_params(graph, node)])
    if node.op == "GatherV2" and (int(np.asarray(values[graph.resolve(node.inputs[2])]).reshape(-1)[0]) != 0
                                  or int(node.attr["batch_dims"].i) != 0):
        raise Unsupported("a gather along another axis than the table's rows, or with batch_dims")
    if table.ndim != 2 or table.dtype.kind != "f":
        raise Unsupported("a lookup in a table of shape %r and type %s (a (rows, width) float table is an "
                          "embedding)" % (table.shape, table.dtype))
    if lookup.absorbed:
        wrap = np.asarray(values[graph.resolve(graph.nodes[lookup.absorbed[1]].inputs[1])]).reshape(-1)
        zero = np.asarray(values[graph.resolve(graph.nodes[lookup.absorbed[0]].inputs[1])]).reshape(-1)
        if wrap.size != 1 or zero.size != 1 or int(wrap[0]) != table.shape[0] or int(zero[0]) != 0:
            raise Unsupported("ids adjusted by %r below %r before the lookup (Keras wraps negative ids by the "
                              "table's %d rows)" % (wrap.tolist(), zero.tolist(), table.shape[0]))
    return make_node("embedding", {"input_dim": int(table.shape[0]), "output_dim": int(table.shape[1]),
                                   "mask_zero": False}, {"embeddings": table.astype(np.float32)},
                     inputs=[lookup.x], output=node.name + ":0", absorbed=lookup.absorbed)
