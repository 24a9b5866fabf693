"""`tf2caffe export|import|inspect ...`: dispatch to export_tf (TF side) or import_caffe (Caffe side).

Each subcommand passes its arguments unchanged to the side's own command line (`python -m export_tf`,
`python -m import_caffe`), imported only when that subcommand runs.
"""
import importlib
import importlib.util
import os
import sys

from . import __version__

COMMANDS = (
    ("export", "export_tf.cli", "TF side: Keras model -> bundle (needs TensorFlow: pip install 'tf2caffe[tf]')"),
    ("import", "import_caffe.cli", "Caffe side: bundle -> .prototxt + .caffemodel + parity report (needs pycaffe)"),
    ("inspect", "import_caffe.cli", "print a bundle's summary (needs only numpy)"),
)

USAGE = """usage: tf2caffe COMMAND [ARGS...]

Convert TensorFlow/Keras models to stock Caffe models with layer-by-layer parity checks.

commands:
%s

  tf2caffe export model.keras -o model.npz      (where TensorFlow is)
  tf2caffe import model.npz -o caffe_model      (where Caffe is)
  tf2caffe inspect model.npz

`tf2caffe COMMAND --help` gives each command's options. Version %s.
""" % ("\n".join("  %-8s %s" % (name, text) for name, _, text in COMMANDS), __version__)

# What each side needs that this package does not install for it, and how to get it.
_NEEDS = {"tensorflow": "tf2caffe export needs TensorFlow: pip install 'tf2caffe[tf]' (or run it in the TF "
                        "environment, e.g. docker/Dockerfile.tf)",
          "keras": "tf2caffe export needs Keras/TensorFlow: pip install 'tf2caffe[tf]'",
          "caffe": "tf2caffe import needs pycaffe (BVLC Caffe 1.0's Python module, e.g. Debian's python3-caffe); "
                   "run it in the Caffe environment (docker/Dockerfile.caffe or `make import`)"}


def _side_main(module_name):
    return importlib.import_module(module_name).main


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0 if argv else 2
    if argv[0] == "--version":
        print("tf2caffe %s" % __version__)
        return 0
    command, rest = argv[0], argv[1:]
    modules = dict((name, module) for name, module, _ in COMMANDS)
    if command not in modules:
        sys.stderr.write("tf2caffe: unknown command %r (expected one of: %s)\n"
                         % (command, ", ".join(sorted(modules))))
        return 2
    if command == "inspect":
        if not rest or rest[0] in ("-h", "--help"):
            sys.stdout.write("usage: tf2caffe inspect BUNDLE\n\nPrint a bundle's summary: producer, model, inputs "
                             "and outputs, layers by type, parameter count and size, references present.\n")
            return 0 if rest else 2
        rest = ["--inspect"] + rest
    elif command == "import":
        os.environ.setdefault("GLOG_minloglevel", "2")
    needs = {"export": "tensorflow", "import": "caffe"}.get(command)
    asks_help = any(a in ("-h", "--help") for a in rest)
    if needs and not asks_help and importlib.util.find_spec(needs) is None:
        sys.stderr.write("tf2caffe: error: %s\n" % _NEEDS[needs])
        return 2
    try:
        side = _side_main(modules[command])
        return side(rest)
    except ImportError as exc:
        missing = (getattr(exc, "name", None) or "").split(".")[0]
        if missing in _NEEDS:
            sys.stderr.write("tf2caffe: error: %s\n" % _NEEDS[missing])
            return 2
        raise
