"""The import side of plugins (see shared/plugins.py): what `tf2caffe_import(api)` receives."""
from shared.plugins import load_plugins, plugin_paths

_LOADED = set()


def _api():
    from shared import opspec
    from shared.opspec import fields

    from . import layout, registry
    from .plan import CaffeLayer, Lowering, TensorRef

    class ImportAPI(object):
        pass
    api = ImportAPI()
    api.register = registry.register
    api.Unsupported = registry.Unsupported
    api.CaffeLayer, api.Lowering, api.TensorRef = CaffeLayer, Lowering, TensorRef
    api.layout = layout
    api.declare, api.Array, api.fields = opspec.declare, opspec.Array, fields
    return api


def activate(paths=()):
    """Load the plugins named on the command line and in TF2CAFFE_PLUGINS (once per file)."""
    from . import registry
    registry.handler_for("")        # the built-in handlers first, so a clash is reported at the plugin
    todo = [p for p in plugin_paths(paths) if p not in _LOADED]
    load_plugins(todo, "tf2caffe_import", _api())
    _LOADED.update(todo)
