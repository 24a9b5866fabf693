"""The README's supported-layer table, generated from the two registries, and its manifest reference,
generated from the op spec (shared/opspec/reference.py).

    python -m export_tf.support_table            # print the table
    python -m export_tf.support_table --write    # rewrite README.md between the markers
"""
import os
import sys

from import_caffe.registry import all_handlers
from shared.opspec import reference

from .registry import supported_classes

BEGIN = "<!-- support-table:begin -->"
END = "<!-- support-table:end -->"
README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def table():
    importers = all_handlers()
    lines = ["| Keras layer | family | manifest op | Caffe layers | exact |", "|---|---|---|---|---|"]
    for class_name, func in sorted(supported_classes().items()):
        if getattr(func, "plugin", False):
            continue        # a user's plugin, loaded in this process (the table lists built-ins)
        family = func.__module__.rsplit(".", 1)[-1]
        ops = getattr(func, "ops", ())
        if not ops:
            raise ValueError("exporter handler for %s does not declare its ops" % class_name)
        missing = [op for op in ops if op not in importers]
        if missing:
            raise ValueError("%s emits ops %s that no importer handler lowers" % (class_name, missing))
        comp = "; ".join(importers[op].composition for op in ops)
        approx = [importers[op].approximate for op in ops if importers[op].approximate]
        exact = "yes, except " + "; ".join(approx) if approx else "yes"
        lines.append("| %s | %s | %s | %s | %s |" % (class_name, family, ", ".join(ops), comp, exact))
    return "\n".join(lines)


def unsupported_keras_layers():
    """Keras layer classes with no handler (needs keras: the TF side only)."""
    import keras
    names = set()
    for name in dir(keras.layers):
        obj = getattr(keras.layers, name)
        if isinstance(obj, type) and issubclass(obj, keras.layers.Layer) and obj is not keras.layers.Layer:
            names.add(obj.__name__)
    from .traced import TRACED
    known = set(supported_classes()) | set(TRACED) | {"InputLayer", "Layer", "Functional", "Model", "Sequential"}
    return sorted(names - known)


def section():
    text = [BEGIN, table(), ""]
    text.append("InputLayer maps to Caffe's Input layer; activations named in a layer's `activation` "
                "argument follow the Activation row. Lambda (only with `--trust-lambda`) and Keras 2's "
                "TFOpLambda and SlicingOpLambda are traced into TF ops and converted by the graph front end's "
                "op lowerings (the TF ops listed under SavedModels). Not supported yet (refused up front with the "
                "unsupported-layer message): " + ", ".join(unsupported_keras_layers()) + ".")
    text.append(END)
    return "\n".join(text)


def _replace(text, begin, end, new):
    start, stop = text.index(begin), text.index(end) + len(end)
    return text[:start] + new + text[stop:]


def render_readme(readme_text):
    """README.md with the supported-layer table and the manifest reference (shared/opspec) regenerated."""
    text = _replace(readme_text, BEGIN, END, section())
    return _replace(text, reference.BEGIN, reference.END, reference.section())


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if "--write" in argv:
        with open(README) as f:
            text = f.read()
        new = render_readme(text)       # built in full before README.md is touched
        tmp = README + ".tmp"
        with open(tmp, "w") as f:
            f.write(new)
        os.replace(tmp, README)
        return 0
    print(section())
    return 0


if __name__ == "__main__":
    sys.exit(main())
