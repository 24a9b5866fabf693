"""The export side of plugins (see shared/plugins.py): what `tf2caffe_export(api)` receives."""
from shared import opspec
from shared.plugins import load_plugins, plugin_paths

from . import registry
from .node import Unsupported, make_node

_CUSTOM_OBJECTS = {}
_LOADED = set()


def _register(*class_names, **kwargs):
    """registry.register, marking the handler as a plugin's (the README's table lists built-ins)."""
    wrap = registry.register(*class_names, **kwargs)

    def mark(func):
        func.plugin = True
        return wrap(func)
    return mark


class ExportAPI(object):
    register = staticmethod(_register)
    Node = staticmethod(make_node)          # a node of the plugin's op, declared with api.declare
    Unsupported = Unsupported
    declare = staticmethod(opspec.declare)      # the plugin op's spec (shared/opspec)

    @staticmethod
    def custom_object(cls, name=None):
        """Make the Keras class `cls` known when the model file is loaded."""
        _CUSTOM_OBJECTS[name or cls.__name__] = cls
        return cls


def activate(paths=()):
    """Load the plugins named on the command line and in TF2CAFFE_PLUGINS (once per file)."""
    registry.handler_for("")        # the built-in handlers first, so a clash is reported at the plugin
    todo = [p for p in plugin_paths(paths) if p not in _LOADED]
    load_plugins(todo, "tf2caffe_export", ExportAPI)
    _LOADED.update(todo)


def custom_objects():
    return dict(_CUSTOM_OBJECTS)
