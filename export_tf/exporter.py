"""The export orchestrator and the Keras reader: model file -> flattened graph -> reference run -> one
handler per layer call -> the one manifest writer -> validated bundle. SavedModels, frozen graphs and TF1
checkpoints go to the graph reader (export_tf/graphdef), which ends in the same writer."""

from shared import progress
from shared.errors import ModelLoadError, UnsupportedError, UsageError
from shared.unsupported import format_unsupported

from . import domains
from .graph import flatten_model
from .layerview import layer_view
from .loader import load_model
from .manifest import build_manifest, write
from .node import Unsupported, call_handler
from .reference import (check_against_model, declared_batch, evaluate, make_inputs, needs_preactivation,
                        preactivation, stateful_layers)
from .registry import handler_for, supported_classes
from .traced import TRACED, lower_traced

def lower_layers(graph, values, where, activations=True):
    """Run every layer's handler. Returns (placed nodes, preactivations by node name); raises
    UnsupportedError listing every unsupported layer of the model at once."""
    unsupported, nodes, preacts = [], [], {}
    for gnode in graph.nodes:
        kind = gnode.class_name
        handler = handler_for(kind)
        if handler is None and kind in TRACED:
            try:
                nodes.extend(lower_traced(gnode, values))
            except Unsupported as exc:
                unsupported.append((kind, gnode.name, str(exc)))
            continue
        if handler is None:
            unsupported.append((kind, gnode.name, ""))
            continue
        view = layer_view(gnode, values)
        bad_rank = [s for s in view.input_shapes + view.output_shapes if len(s) not in (1, 2, 3)]
        if bad_rank:
            unsupported.append((kind, gnode.name, "tensor of shape %r: only (C,), (L, C) and (H, W, C) tensors "
                                "are supported" % (bad_rank[0],)))
            continue
        try:
            node = call_handler(handler, view, "%s %r" % (kind, gnode.name))
        except Unsupported as exc:
            unsupported.append((kind, gnode.name, str(exc)))
            continue
        if activations and needs_preactivation(node.attrs.get("activation")):
            preacts[gnode.name] = preactivation(gnode, values)
        nodes.append(node.place(gnode.name, kind, gnode.inputs, gnode.outputs))
    if unsupported:
        raise UnsupportedError(format_unsupported(where, unsupported, supported_classes()))
    return nodes, preacts


def export(model_path, bundle_path, batch=2, seed=0, input_shape=None, reference_inputs=None,
           activations=True, log=None, plugins=(), inputs=None, outputs=None, signature=None, settings=None,
           trust_lambda=False):
    """Export a model file to a bundle. Returns the written manifest. A SavedModel, frozen graph or TF1
    checkpoint goes through the graph front end (export_tf/graphdef); inputs ([InputSpec]), outputs
    ([tensor name]), signature and settings (--set) apply to those only; trust_lambda (--trust-lambda) lets
    a Keras file's Lambda layers load and run (export_tf/loader.py)."""
    from .graphdef import detect_format
    fmt, resolved = detect_format(model_path)
    if fmt != "keras":
        from .graphdef import export_graph
        return export_graph(fmt, resolved, bundle_path, batch=batch, seed=seed, input_shape=input_shape,
                            reference_inputs=reference_inputs, activations=activations, log=log,
                            inputs=inputs, outputs=outputs, signature=signature, settings=settings)
    if inputs or outputs or signature or settings:
        raise UsageError("--inputs, --outputs, --signature and --set apply to SavedModels, frozen graphs and TF1 "
                         "checkpoints, not to Keras files")
    log = log or (lambda msg: None)
    log("loading %s" % model_path)
    from .plugins import activate, custom_objects
    activate(plugins)
    with progress.phase("loading the model"):
        model, source = load_model(model_path, custom_objects(), trust_lambda)
    graph = flatten_model(model)
    stateful = stateful_layers(graph)           # refused by their handlers, with every other unsupported layer
    if stateful:
        batch, reference_inputs = declared_batch(graph, batch), None
    inputs, input_domains = make_inputs(graph, batch, seed, input_shape, reference_inputs)
    log("running %d layers in TensorFlow on %d reference input(s)" % (len(graph.nodes),
                                                                      next(iter(inputs.values())).shape[0]))
    with progress.phase("running every layer in TensorFlow"):
        values = evaluate(graph, inputs)
    if not stateful:
        with progress.phase("checking the layers against the whole model"):
            check_against_model(model, graph, inputs, values)
    with progress.phase("lowering the layers"):
        nodes, preacts = lower_layers(graph, values, source["path"], activations)
        if stateful:
            raise ModelLoadError("internal check failed: stateful layer %r was not refused; please report this "
                                 "model" % stateful[0])
        made = domains.made(dict((tid, input_domains[name]) for name, tid, _ in graph.inputs),
                            reference_inputs is not None, seed)
        manifest, arrays = build_manifest(graph.name, source, [(name, tid) for name, tid, _ in graph.inputs],
                                          graph.outputs, nodes, values, preacts, activations, made=made)
    return write(bundle_path, manifest, arrays, log)
