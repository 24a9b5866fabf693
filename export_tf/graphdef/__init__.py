"""The graph reader: SavedModels, frozen GraphDefs and TF1 checkpoints -> the same bundle as the Keras
reader (detect -> load & freeze -> clean -> one reference run -> lower through the handlers of
export_tf/handlers -> place -> the one manifest writer, export_tf/manifest.py)."""
import os

import numpy as np

from shared.errors import ModelLoadError

from .detect import detect_format  # noqa: F401  (the exporter dispatches on it)


def export_graph(fmt, path, bundle_path, batch=2, seed=0, input_shape=None, reference_inputs=None,
                 activations=True, log=None, inputs=None, outputs=None, signature=None, settings=None):
    """Export a graph-format model to a bundle; returns the written manifest. inputs: [InputSpec] or
    None, outputs: [tensor name] or None (see names.parse_inputs / parse_outputs); settings: {op name:
    value} fixing placeholders and variables (--set, settings.py)."""
    from .clean import clean
    from .load import load_graph
    from .. import domains
    from ..manifest import build_manifest, write
    from .lookups import find_lookups
    from .loops import find_loops, state_fetches, unfetchable
    from .lower import lower_graph, place, refuse_control_flow
    from .timesteps import fold_steps
    from .reference import make_feeds, run
    from .variables import constant_values
    log = log or (lambda msg: None)
    log("loading %s (%s)" % (path, fmt))
    loaded = load_graph(fmt, path, inputs, outputs, signature, settings, log)
    where = loaded.source["path"]
    graph = clean(loaded.graph_def, loaded.inputs, loaded.outputs, where, loaded.constants)
    loops, refused = find_loops(graph, loaded.graph_def.library)    # recurrent layers' While loops (loops.py)
    loops.update(find_lookups(graph))           # and embedding lookups of integer ids (lookups.py)
    refuse_control_flow(graph, where, loops, refused)
    skip = unfetchable(graph, loops)
    feeds, input_domains = make_feeds(loaded.graph_def, graph.inputs, batch, seed, input_shape, reference_inputs,
                                      graph)
    fetches = sorted(t for t in graph.data if t not in graph.alias and t not in feeds and t not in skip)
    fetches += [t for t in state_fetches(loops) if t not in graph.data]     # an LSTM's c the model does not read
    static = [t for t in graph.static_inputs() if t not in graph.data and t not in skip]
    weights = constant_values(graph, static, loaded.constants)    # a checkpoint's: the arrays, not fetched
    fetches += [t for t in static if t not in weights]
    log("running %d ops in TensorFlow on %d reference input(s)"
        % (len(graph.order), next(iter(feeds.values())).shape[0]))
    values = run(loaded.graph_def, dict(feeds, **loaded.constants), fetches)
    values.update((t, v.astype(np.float32)) for t, v in feeds.items())    # ids too: a float blob, as Caffe's
    values.update(weights)
    loops.update(fold_steps(graph, values, next(iter(feeds.values())).shape[0]))   # TimeDistributed
    lowered = lower_graph(graph, values, where, loops)
    if loaded.function is not None:
        _check_against_function(loaded, graph, feeds, values)
    name = os.path.splitext(os.path.basename(os.path.normpath(path)))[0] or "model"
    model_inputs, model_outputs, nodes, by_tid = place(graph, lowered, values, loaded)
    manifest, arrays = build_manifest(name, loaded.source, model_inputs, model_outputs, nodes, by_tid,
                                      activations=activations,
                                      made=domains.made(dict((tid, input_domains[spec.tensor]) for (tid, _), spec
                                                             in zip(model_inputs, graph.inputs)),
                                                        reference_inputs is not None, seed))
    return write(bundle_path, manifest, arrays, log)


def _check_against_function(loaded, graph, feeds, values):
    """The frozen graph must reproduce the SavedModel's own signature function (guards the freezing)."""
    function, placeholders, arg_names, out_pairs = loaded.function
    if None in arg_names or any(t not in feeds for t in placeholders):
        return          # the user cut the graph elsewhere, or unnamed arguments: nothing to compare
    try:
        result = function(**dict((arg, feeds[t]) for t, arg in zip(placeholders, arg_names)))
    except Exception as exc:
        text = str(exc).strip().splitlines()
        raise ModelLoadError("the SavedModel's signature could not be called on the reference inputs "
                             "(%s: %s)" % (type(exc).__name__, text[0] if text else ""))
    for key, tensor in out_pairs:
        if tensor not in graph.outputs:
            continue
        expected = np.asarray(result[key], dtype=np.float32)
        got = values[graph.resolve(tensor)]
        scale = max(float(np.abs(expected).max()), 1e-30)
        if got.shape != expected.shape or float(np.abs(got - expected).max()) > 1e-5 * scale:
            raise ModelLoadError("internal check failed: the frozen graph does not reproduce the "
                                 "SavedModel's output %r; please report this model" % key)
