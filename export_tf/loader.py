"""Load a Keras model file: `.keras` (Keras 3) or a legacy full-model `.h5` (Keras 2 or 3)."""
import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from shared.errors import ModelLoadError, UsageError

KERAS_SUFFIXES = (".keras",)
H5_SUFFIXES = (".h5", ".hdf5")


def file_sha256(path, stop=None):
    """The file's sha256 (hex); None if `stop` (a threading.Event) is set before it is done."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            if stop is not None and stop.is_set():
                return None
            digest.update(block)
    return digest.hexdigest()


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return "%s: %s" % (type(exc).__name__, text[0] if text else "")


def load_model(path, custom_objects=None):
    """Return (model, source info). Raises UsageError / ModelLoadError with a one-line message."""
    if not os.path.exists(path):
        raise UsageError("%s: no such file" % path)
    if os.path.isdir(path):
        raise UsageError("%s: is a directory; expected a .keras or .h5 model file" % path)
    if not os.access(path, os.R_OK):
        raise UsageError("%s: cannot be read (permission denied)" % path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in KERAS_SUFFIXES + H5_SUFFIXES:
        raise UsageError("%s: unknown model format %r; expected a .keras file or a full-model .h5 file"
                         % (path, suffix))
    # the file's sha256 (for the manifest) is computed by a worker thread while Keras loads the model:
    # hashlib releases the GIL, and the load is mostly Python (imports, deserialising)
    stop = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        digest = pool.submit(file_sha256, path, stop)
        try:
            if suffix in KERAS_SUFFIXES:
                model, fmt = _load_keras3(path, custom_objects), "keras"
            else:
                model, fmt = _load_h5(path, custom_objects)
        except BaseException:
            stop.set()
            raise
        info = {"path": os.path.basename(path), "sha256": digest.result(), "format": fmt}
    return model, info


def _load_keras3(path, custom_objects=None):
    import keras
    try:
        return keras.saving.load_model(path, custom_objects=custom_objects or None, compile=False)
    except Exception as exc:
        raise ModelLoadError("%s: Keras could not load the model (%s)" % (path, _first_line(exc)))


def _load_h5(path, custom_objects=None):
    import h5py
    try:
        with h5py.File(path, "r") as f:
            has_config = "model_config" in f.attrs
    except Exception as exc:
        raise ModelLoadError("%s: not a readable HDF5 file (%s)" % (path, _first_line(exc)))
    if not has_config:
        raise ModelLoadError("%s: holds weights only (no model_config); save the whole model "
                             "(model.save) and convert that file" % path)
    import keras
    try:
        return keras.models.load_model(path, custom_objects=custom_objects or None, compile=False), "h5"
    except Exception as exc3:
        keras3_error = _first_line(exc3)
    # Keras 3 refuses some files that Keras 2 wrote; Keras 2 itself (tf_keras) reads them.
    try:
        import tf_keras
    except ImportError:
        raise ModelLoadError("%s: Keras 3 could not load this legacy file (%s) and tf_keras is not "
                             "installed" % (path, keras3_error))
    try:
        return tf_keras.models.load_model(path, compile=False), "h5-keras2"
    except Exception as exc2:
        raise ModelLoadError("%s: neither Keras 3 (%s) nor Keras 2 (%s) could load the model"
                             % (path, keras3_error, _first_line(exc2)))
