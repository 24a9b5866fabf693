"""One registry class for every handler table of the converter: Keras layer class -> exporter handler,
TF op type -> graph handler, manifest op -> importer handler.

* Registration is explicit: ``@table.register("Conv2D", ops=("conv2d",))`` registers the function under
  each key and sets the keyword arguments as attributes of the function (what the README's support table
  reads); ``table.add(key, entry, module)`` registers any other object (a Handler record, say).
* Registering a key twice raises, at import time for the built-in handlers.
* The family modules are imported by name (``package.family`` for each family listed), never found by
  scanning, so the list in one place says what is loaded.
* ``get(key)`` looks one up (None if unknown), ``entries()`` lists them all (the support table, the
  "supported:" line of the unsupported-layer message).

Python 3.8, no dependencies beyond shared.errors: both sides use it.
"""
import importlib

from .errors import Tf2CaffeError


class Registry(object):
    def __init__(self, what, package, families):
        """what: how an entry is named in messages ("exporter handler for Keras class"); package and
        families: the modules holding the handlers, imported as ``package + "." + family``."""
        self.what = what
        self.package = package
        self.families = tuple(families)
        self._entries = {}
        self._modules = {}

    def register(self, *keys, **info):
        """A decorator registering the function under each key, with `info` set as its attributes."""
        def wrap(func):
            for name, value in info.items():
                setattr(func, name, value)
            for key in keys:
                self.add(key, func, func.__module__)
            return func
        return wrap

    def add(self, key, entry, module):
        if key in self._entries:
            raise Tf2CaffeError("%s %r registered twice (%s and %s)" % (self.what, key, self._modules[key], module))
        self._entries[key] = entry
        self._modules[key] = module

    def load(self):
        """Import every family module (once: later calls find them in sys.modules)."""
        for family in self.families:
            importlib.import_module("%s.%s" % (self.package, family))

    def get(self, key):
        self.load()
        return self._entries.get(key)

    def entries(self):
        """{key: entry} for everything registered."""
        self.load()
        return dict(self._entries)

    def module_of(self, key):
        """The module that registered `key` (None if unknown)."""
        self.load()
        return self._modules.get(key)
