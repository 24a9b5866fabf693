"""Plugins: how a user teaches the converter a custom Keras layer without editing the package.

A plugin is one Python file with up to two hooks, each called only on its own side:

    def tf2caffe_export(api):   # export_tf, where TensorFlow is: api.register, api.Node,
        ...                     #   api.Unsupported, api.custom_object(cls), api.declare
    def tf2caffe_import(api):   # import_caffe, where Caffe is (never import TF here): api.register,
        ...                     #   api.CaffeLayer, api.Lowering, api.TensorRef, api.Unsupported,
                                #   api.layout, api.declare

Both hooks declare the plugin's manifest op with the same ``api.declare(op, "plugin", inputs=...,
attrs={...}, arrays={...}, rule=...)`` (shared/opspec: api.fields and api.Array describe attributes
and arrays), so the exporter writes the node whole and the importer checks it like a built-in one.

The export hook registers a handler for the Keras class (and the class itself, so the model file
loads); the import hook registers the Caffe lowering of the manifest op that handler emits. Plugins
come from `--plugin FILE` (repeatable) and the TF2CAFFE_PLUGINS environment variable (paths joined
by os.pathsep). A plugin is the user's own code and runs as such; bundles never name or load one.
"""
import importlib.util
import os

from .errors import UsageError

ENV = "TF2CAFFE_PLUGINS"


def plugin_paths(paths=()):
    """The plugin files named on the command line, then those of TF2CAFFE_PLUGINS, without repeats."""
    found = list(paths or ())
    found += [p for p in os.environ.get(ENV, "").split(os.pathsep) if p]
    seen, out = set(), []
    for path in found:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            out.append(path)
    return out


def load_plugins(paths, hook, api):
    """Import each plugin file and call its `hook(api)` if it defines one. Returns the hook results."""
    results = []
    for index, path in enumerate(paths):
        if not os.path.isfile(path):
            raise UsageError("plugin %s: no such file" % path)
        name = "tf2caffe_plugin_%d_%s" % (index, "".join(c if c.isalnum() else "_"
                                                           for c in os.path.basename(path).rsplit(".", 1)[0]))
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        except Exception as exc:
            raise UsageError("plugin %s: could not be loaded (%s: %s)" % (path, type(exc).__name__,
                                                                          str(exc).splitlines()[0] if str(exc) else ""))
        func = getattr(module, hook, None)
        if func is None:
            continue
        try:
            results.append(func(api))
        except UsageError:
            raise
        except Exception as exc:
            raise UsageError("plugin %s: %s() failed (%s: %s)" % (path, hook, type(exc).__name__,
                                                                  str(exc).splitlines()[0] if str(exc) else ""))
    return results
