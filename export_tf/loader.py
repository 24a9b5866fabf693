"""Load a Keras model file: `.keras` (Keras 3) or a legacy full-model `.h5` (Keras 2 or 3).

A legacy `.h5` is read by the Keras that wrote it (its `keras_version` attribute): Keras 3 loads a Keras 2
file without complaint but gives some layers its own meaning (hard_sigmoid is clip(0.2 x + 0.5, 0, 1) in
Keras 2, relu6(x + 3) / 6 in Keras 3), so a Keras 2 file is loaded by Keras 2 (tf_keras), whose layers
then compute the reference values and choose the lowerings. Lambda layers are refused before anything is
loaded unless the user trusts the file (--trust-lambda): they carry Python code that loading would run.
"""
import hashlib
import json
import os
import zipfile
import threading
from concurrent.futures import ThreadPoolExecutor

from shared.errors import ModelLoadError, UnsupportedError, UsageError

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


def load_model(path, custom_objects=None, trust_lambda=False):
    """Return (model, source info). Raises UsageError / ModelLoadError with a one-line message, and
    UnsupportedError for Lambda layers unless trust_lambda."""
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
                _refuse_lambdas(path, _keras_file_config(path), trust_lambda)
                model, fmt = _load_keras3(path, custom_objects, trust_lambda), "keras"
            else:
                model, fmt = _load_h5(path, custom_objects, trust_lambda)
        except BaseException:
            stop.set()
            raise
        info = {"path": os.path.basename(path), "sha256": digest.result(), "format": fmt}
    return model, info


def _load_keras3(path, custom_objects=None, trust_lambda=False):
    import keras
    try:
        return keras.saving.load_model(path, custom_objects=custom_objects or None, compile=False,
                                       safe_mode=not trust_lambda)
    except Exception as exc:
        raise ModelLoadError("%s: Keras could not load the model (%s)" % (path, _first_line(exc)))


def _keras_file_config(path):
    """The model config of a .keras zip (its config.json), or None if it cannot be read (Keras then says
    why)."""
    try:
        with zipfile.ZipFile(path) as z:
            return z.read("config.json").decode("utf-8")
    except Exception:
        return None


def lambda_layers(config_text):
    """The names of the Lambda layers in a model config (JSON text), nested models included."""
    try:
        config = json.loads(config_text) if config_text else None
    except ValueError:
        return []
    found, stack = [], [config]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("class_name") == "Lambda":
                inner = item.get("config") or {}
                found.append(str(inner.get("name") or item.get("name") or "?"))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return sorted(found)


def _refuse_lambdas(path, config_text, trust_lambda):
    names = lambda_layers(config_text)
    if names and not trust_lambda:
        raise UnsupportedError(
            "%s: %d Lambda layer(s) (%s): a Lambda layer carries Python code (bytecode in a .h5, a serialised "
            "function in a .keras) that runs when the model is loaded and called, so converting it runs code "
            "from the file; refused. If you trust the file, pass --trust-lambda (make export ... "
            "EXPORT_ARGS=\"--trust-lambda\"): the code is then run and the TF ops it traces are converted "
            "like a graph's" % (path, len(names), ", ".join(names[:5])))


def keras_major(version):
    """The major version of the Keras that wrote a file (its keras_version attribute), or None."""
    if isinstance(version, bytes):
        version = version.decode("utf-8", "replace")
    try:
        return int(str(version).split(".")[0])
    except ValueError:
        return None


def _load_h5(path, custom_objects=None, trust_lambda=False):
    import h5py
    try:
        with h5py.File(path, "r") as f:
            has_config = "model_config" in f.attrs
            config = f.attrs.get("model_config")
            version = f.attrs.get("keras_version")
    except Exception as exc:
        raise ModelLoadError("%s: not a readable HDF5 file (%s)" % (path, _first_line(exc)))
    if not has_config:
        raise ModelLoadError("%s: holds weights only (no model_config); save the whole model "
                             "(model.save) and convert that file" % path)
    config = config.decode("utf-8", "replace") if isinstance(config, bytes) else str(config)
    _refuse_lambdas(path, config, trust_lambda)
    major = keras_major(version)
    if major is not None and major < 3:
        return _load_keras2_file(path, custom_objects, config, version)
    import keras
    try:
        return keras.models.load_model(path, custom_objects=custom_objects or None, compile=False,
                                       safe_mode=not trust_lambda), "h5"
    except Exception as exc3:
        keras3_error = _first_line(exc3)
    # Keras 3 refuses some files that Keras 2 wrote; Keras 2 itself (tf_keras) reads them.
    try:
        import tf_keras
    except ImportError:
        raise ModelLoadError("%s: Keras 3 could not load this legacy file (%s) and tf_keras is not "
                             "installed" % (path, keras3_error))
    try:
        return tf_keras.models.load_model(path, custom_objects=custom_objects or None, compile=False), "h5-keras2"
    except Exception as exc2:
        raise ModelLoadError("%s: neither Keras 3 (%s) nor Keras 2 (%s) could load the model"
                             % (path, keras3_error, _first_line(exc2)))


# what Keras 3 computes differently from Keras 2 for the same config (README: Keras 2 and Keras 3)
KERAS2_MEANINGS = ("hard_sigmoid",)


def _load_keras2_file(path, custom_objects, config, version):
    """A file Keras 2 wrote: loaded by Keras 2 (tf_keras). Keras 3 only where tf_keras cannot read it and
    the model uses nothing whose meaning Keras 3 changed."""
    try:
        import tf_keras
        return tf_keras.models.load_model(path, custom_objects=custom_objects or None, compile=False), "h5-keras2"
    except ImportError:
        keras2_error = "tf_keras is not installed"
    except Exception as exc2:
        keras2_error = _first_line(exc2)
    changed = [name for name in KERAS2_MEANINGS if '"%s"' % name in config]
    if changed:
        raise ModelLoadError("%s: written by Keras %s, whose %s Keras 3 computes differently, and Keras 2 "
                             "(tf_keras) could not load it (%s)" % (path, version, ", ".join(changed), keras2_error))
    import keras
    try:
        return keras.models.load_model(path, custom_objects=custom_objects or None, compile=False), "h5"
    except Exception as exc3:
        raise ModelLoadError("%s: neither Keras 2 (%s) nor Keras 3 (%s) could load the model"
                             % (path, keras2_error, _first_line(exc3)))
