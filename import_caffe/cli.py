"""`python -m import_caffe BUNDLE -o OUT`: generate, fill, save and verify the Caffe model."""
import argparse
import os
import sys


def parser():
    p = argparse.ArgumentParser(prog="python -m import_caffe",
                                description="Convert a tf2caffe bundle into a Caffe model (.prototxt + "
                                            ".caffemodel) and verify it against TF's reference outputs.")
    p.add_argument("bundle", help="the bundle written by export_tf (.npz or .h5)")
    p.add_argument("-o", "--output", help="output folder (created if missing)")
    p.add_argument("--inspect", action="store_true", help="print the bundle's summary and exit")
    p.add_argument("--labels", help=".npy of integer class labels for the reference inputs: the report "
                                    "then gives TF's and Caffe's accuracy and their agreement")
    p.add_argument("--plugin", action="append", default=[], metavar="FILE",
                   help="a plugin file with the Caffe lowering of a custom layer (repeatable; see the README)")
    p.add_argument("--target", default="auto", metavar="NAME",
                   help="the Caffe build to generate for: auto (default: what the Caffe here offers), caffe-1.0 "
                        "(BVLC 1.0: no Clip, no Swish; exact compositions instead), caffe-1.0-debian (Clip, Swish), "
                        "or a runtime that imports Caffe files: opencv (OpenCV's dnn), mnn (MNN's converter), "
                        "mnn+opencv (one net for both)")
    p.add_argument("--prototxt", metavar="NET",
                   help="fill YOUR hand-written net instead of a generated one: layers matched by name or "
                        "through --map, every shape checked (see the README)")
    p.add_argument("--map", metavar="JSON", help='with --prototxt: {"TF layer": "your Caffe layer" or [...]}')
    p.add_argument("--keep-on-failure", action="store_true",
                   help="when the parity check fails (exit status 3), still write the model files, named "
                        "<model>.failed-verification.prototxt / .caffemodel (default: only the report)")
    p.add_argument("--verify-with", metavar="RUNTIME[,RUNTIME]",
                   help="after the Caffe check, run the written files in these runtimes too (opencv: OpenCV's dnn; "
                        "mnn: MNN, converted by its own converter, run isolated without network) "
                        "and compare every blob they output with Caffe's and their outputs with TF's; exit status 3 "
                        "if one disagrees or cannot run the net. With --target auto, generates for the runtime's "
                        "target (opencv, mnn; both: mnn+opencv). Installed by make setup")
    p.add_argument("-q", "--quiet", action="store_true", help="print the summary, not the per-layer table")
    return p


def _labels(path):
    if path is None:
        return None
    import numpy as np
    from shared.errors import UsageError
    if not os.path.isfile(path):
        raise UsageError("%s: no such file" % path)
    try:
        labels = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise UsageError("%s: not a readable .npy file (%s)" % (path, exc))
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise UsageError("%s: expected a 1-D array of integer labels, found %s %r" % (path, labels.dtype, labels.shape))
    return labels


def main(argv=None):
    os.environ.setdefault("GLOG_minloglevel", "2")
    args = parser().parse_args(argv)
    from shared.errors import ParityError, Tf2CaffeError, UsageError
    from shared.messages import clip, for_terminal, where
    log = (lambda msg: None) if args.quiet else (lambda msg: print("import_caffe: " + msg, file=sys.stderr))
    try:
        if not os.path.exists(args.bundle):     # the README's status 2: a missing file, like export_tf
            raise UsageError("%s: no such file" % where(args.bundle))
        if os.path.isdir(args.bundle):
            raise UsageError("%s: is a directory, expected a bundle file (.npz or .h5)" % where(args.bundle))
        if args.inspect:
            from shared.bundle import read_bundle
            from .inspect_summary import summary
            print(summary(read_bundle(args.bundle).manifest, weights=True))
            return 0
        if not args.output:
            raise UsageError("give the output folder with -o OUT")
        from shared import progress
        progress.configure("import_caffe: ", quiet=args.quiet)
        from . import report as report_text
        from .convert import convert
        if args.map and not args.prototxt:
            raise UsageError("--map goes with --prototxt NET")
        if args.prototxt and args.labels:
            raise UsageError("--labels is not available with --prototxt")
        try:
            if args.prototxt:
                from .manual import convert_manual
                report = convert_manual(args.bundle, args.output, args.prototxt, args.map, log=log,
                                        plugins=args.plugin, target=args.target, keep_on_failure=args.keep_on_failure,
                                        verify_with=args.verify_with)
            else:
                report = convert(args.bundle, args.output, log=log, labels=_labels(args.labels),
                                 plugins=args.plugin, target=args.target, keep_on_failure=args.keep_on_failure,
                                 verify_with=args.verify_with)
        except ParityError as exc:
            if exc.report is not None:
                print(report_text.table(exc.report, max_rows=60 if args.quiet else None))
                print(report_text.footer(exc.report))
            raise
        if not args.quiet:
            print(report_text.table(report))
        print(report_text.footer(report))
        if report.get("manual"):
            print(report_text.manual(report["manual"]))
        for key in ("prototxt", "weights"):
            print("wrote %s" % os.path.join(args.output, report["files"][key]))
        print("wrote %s" % os.path.join(args.output, "report.json"))
        print("wrote %s" % os.path.join(args.output, "report.html"))
        return 0
    except Tf2CaffeError as exc:
        print("import_caffe: error: %s" % for_terminal(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("import_caffe: interrupted; no output files were written", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: keep the one-line contract, the traceback on request
        if os.environ.get("TF2CAFFE_DEBUG"):
            raise
        print("import_caffe: internal error: %s: %s (set TF2CAFFE_DEBUG=1 for a traceback)"
              % (type(exc).__name__, clip(str(exc).splitlines()[0] if str(exc) else "", 200)), file=sys.stderr)
        return 1
