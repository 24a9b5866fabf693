"""Importer handlers, one module per layer family (the same family names as export_tf/handlers)."""
from . import activation, applications, conv, core, dense, merge, norm, pool, reshape, resize, sequence  # noqa: F401
