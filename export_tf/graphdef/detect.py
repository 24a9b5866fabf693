"""Which kind of model a path holds, from the path alone (no TensorFlow needed).

* ``keras``       — a ``.keras`` file or a full-model ``.h5`` / ``.hdf5`` file (the Keras path);
* ``savedmodel``  — a directory with ``saved_model.pb`` (or ``.pbtxt``), or that file itself;
* ``graphdef``    — a frozen ``GraphDef`` file: ``.pb`` (binary) or ``.pbtxt`` (text);
* ``checkpoint``  — a TF1 checkpoint: its ``.meta`` file, its prefix (``model.ckpt`` beside
  ``model.ckpt.meta`` and ``model.ckpt.index``), or a directory holding a ``checkpoint`` file.

``detect_format(path)`` returns ``(format, resolved path)``: the SavedModel directory, or for a
checkpoint its prefix (whose ``.meta`` holds the graph).
"""
import os
import re

from shared.errors import UsageError

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
GRAPH_SUFFIXES = (".pb", ".pbtxt")
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
_CHECKPOINT_LINE = re.compile(r'^\s*model_checkpoint_path\s*:\s*"((?:[^"\\]|\\.)*)"\s*$')


def _is_saved_model_dir(path):
    return any(os.path.isfile(os.path.join(path, f)) for f in SAVED_MODEL_FILES)


def checkpoint_prefix_from_dir(path):
    """The prefix the directory's ``checkpoint`` file names (relative to the directory if relative)."""
    state = os.path.join(path, "checkpoint")
    try:
        with open(state) as f:
            lines = f.read().splitlines()
    except (IOError, OSError, UnicodeDecodeError) as exc:
        raise UsageError("%s: cannot read the checkpoint state file (%s)" % (state, exc))
    for line in lines:
        match = _CHECKPOINT_LINE.match(line)
        if match:
            prefix = match.group(1).replace('\\"', '"').replace("\\\\", "\\")
            if not os.path.isabs(prefix):
                prefix = os.path.join(path, prefix)
            if not os.path.isfile(prefix + ".meta") and os.path.isfile(
                    os.path.join(path, os.path.basename(prefix)) + ".meta"):
                prefix = os.path.join(path, os.path.basename(prefix))   # the folder was moved
            return prefix
    raise UsageError("%s: names no model_checkpoint_path" % state)


def _checkpoint(prefix, shown):
    if not os.path.isfile(prefix + ".meta"):
        raise UsageError("%s: TF1 checkpoint without its graph (%s.meta is missing); a checkpoint "
                         "holds only weights, the .meta file holds the graph" % (shown, prefix))
    if not os.path.isfile(prefix + ".index"):
        raise UsageError("%s: TF1 checkpoint without its weights (%s.index is missing)" % (shown, prefix))
    return "checkpoint", prefix


def detect_format(path):
    """Return (format, resolved path) or raise UsageError saying what was expected."""
    if os.path.isdir(path):
        if _is_saved_model_dir(path):
            return "savedmodel", path
        if os.path.isfile(os.path.join(path, "checkpoint")):
            return _checkpoint(checkpoint_prefix_from_dir(path), path)
        raise UsageError("%s: is a directory but neither a SavedModel (no saved_model.pb) nor a TF1 "
                         "checkpoint folder (no 'checkpoint' file)" % path)
    base = os.path.basename(path)
    suffix = os.path.splitext(path)[1].lower()
    if os.path.isfile(path):
        if base in SAVED_MODEL_FILES:
            return "savedmodel", os.path.dirname(path) or "."
        if suffix in KERAS_SUFFIXES:
            return "keras", path
        if suffix in GRAPH_SUFFIXES:
            return "graphdef", path
        if suffix == ".meta":
            return _checkpoint(path[:-len(".meta")], path)
        if suffix == ".index" or re.search(r"\.data-\d+-of-\d+$", base):
            return _checkpoint(re.sub(r"(\.index|\.data-\d+-of-\d+)$", "", path), path)
        raise UsageError("%s: unknown model format %r; expected a .keras or .h5 file, a SavedModel "
                         "directory, a frozen graph .pb, or a TF1 checkpoint (.meta or prefix)"
                         % (path, suffix))
    if os.path.isfile(path + ".meta") or os.path.isfile(path + ".index"):
        return _checkpoint(path, path)
    if not os.path.exists(path):
        raise UsageError("%s: no such file or directory" % path)
    raise UsageError("%s: not a regular file or directory" % path)
