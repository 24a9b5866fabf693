"""`python -m export_tf MODEL -o BUNDLE`: write a bundle for import_caffe."""
import argparse
import os
import sys

from shared.errors import Tf2CaffeError, UsageError


def _shape(text):
    try:
        dims = [int(d) for d in text.split(",") if d.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("expected comma-separated integers such as 224,224,3")
    if not dims or any(d < 1 for d in dims):
        raise argparse.ArgumentTypeError("expected positive dimensions such as 224,224,3")
    return dims


def parser():
    p = argparse.ArgumentParser(prog="python -m export_tf",
                                description="Export a Keras model (.keras or full-model .h5), a SavedModel "
                                            "directory, a frozen graph (.pb) or a TF1 checkpoint (.meta, "
                                            "prefix or folder) to a tf2caffe bundle (.npz or .h5) for "
                                            "import_caffe.")
    p.add_argument("model", help="the model file")
    p.add_argument("-o", "--output", required=True, help="the bundle to write (.npz or .h5)")
    p.add_argument("--batch", type=int, default=2, help="reference inputs to generate (default 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated reference inputs")
    p.add_argument("--input-shape", type=_shape, help="H,W,C for models with unknown input dimensions")
    p.add_argument("--reference-inputs", help=".npy (one input) or .npz (by input name) of inputs to "
                                              "use instead of random ones")
    p.add_argument("--no-activations", action="store_true",
                   help="do not store every layer's TF output (smaller bundle, outputs-only report)")
    p.add_argument("--plugin", action="append", default=[], metavar="FILE",
                   help="a plugin file teaching the converter a custom layer (repeatable; see the README)")
    p.add_argument("--inputs", metavar="NAME[:SHAPE],...",
                   help="graph formats: the input tensors (default: the signature's, or the placeholders "
                        "the outputs need); SHAPE without the batch, e.g. images:112x112x3")
    p.add_argument("--outputs", metavar="NAME,...", help="graph formats: the output ops or tensors (default: "
                                                         "the signature's, or the graph's sinks)")
    p.add_argument("--signature", help="SavedModel: the signature to convert (default serving_default)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="settings",
                   help="graph formats: fix a placeholder or variable at a value (true, false or a number; "
                        "repeatable); training flags such as is_training are set to false without it")
    p.add_argument("--trust-lambda", action="store_true",
                   help="Keras files: load Lambda layers, whose Python code runs when the model loads (refused "
                        "without it: only for a file you trust); their TF ops are converted")
    p.add_argument("-q", "--quiet", action="store_true")
    return p


def _load_reference(path):
    import numpy as np
    if not os.path.isfile(path):
        raise UsageError("%s: no such file" % path)
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise UsageError("%s: not a readable .npy/.npz file (%s)" % (path, exc))
    if hasattr(data, "files"):
        return dict((k, data[k]) for k in data.files)
    return {0: data}


def main(argv=None):
    args = parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        if args.batch < 1:
            raise UsageError("--batch must be at least 1")
        out_dir = os.path.dirname(os.path.abspath(args.output))
        if not os.path.isdir(out_dir):
            raise UsageError("%s: the folder %s does not exist" % (args.output, out_dir))
        if not os.path.exists(args.model) and not os.path.isfile(args.model + ".meta"):
            # answered before TensorFlow is imported (seconds); a checkpoint's prefix names no file
            raise UsageError("%s: no such file" % args.model)
        provided = _load_reference(args.reference_inputs) if args.reference_inputs else None
        from shared import progress
        progress.configure("export_tf: ", quiet=args.quiet)
        from .exporter import export
        from .graphdef.names import parse_inputs, parse_outputs
        from .graphdef.settings import parse_settings
        log = (lambda msg: None) if args.quiet else (lambda msg: print("export_tf: " + msg, file=sys.stderr))
        manifest = export(args.model, args.output, batch=args.batch, seed=args.seed,
                          input_shape=args.input_shape, reference_inputs=provided,
                          activations=not args.no_activations, log=log, plugins=args.plugin,
                          inputs=parse_inputs(args.inputs) if args.inputs else None,
                          outputs=parse_outputs(args.outputs) if args.outputs else None,
                          signature=args.signature, settings=parse_settings(args.settings),
                          trust_lambda=args.trust_lambda)
    except Tf2CaffeError as exc:
        from .node import HandlerBug
        if isinstance(exc, HandlerBug) and os.environ.get("TF2CAFFE_DEBUG"):
            raise       # a converter bug: the traceback on request, as the README's exit statuses say
        from shared.messages import for_terminal
        print("export_tf: error: %s" % for_terminal(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("export_tf: interrupted; nothing was written", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: the one-line contract of every status, the traceback on request
        if os.environ.get("TF2CAFFE_DEBUG"):
            raise
        from shared.messages import clip
        first = str(exc).splitlines()[0] if str(exc) else ""
        print("export_tf: internal error: %s: %s (set TF2CAFFE_DEBUG=1 for a traceback and report it)"
              % (type(exc).__name__, clip(first, 200)), file=sys.stderr)
        return 1
    from import_caffe.inspect_summary import summary
    if not args.quiet:
        print(summary(manifest))
    print("wrote %s" % args.output)
    return 0
