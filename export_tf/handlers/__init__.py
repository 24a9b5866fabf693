"""Exporter handlers, one module per layer family (the same family names as import_caffe/handlers)."""
from . import activation, applications, ops, conv, core, dense, merge, norm, pool, reshape, resize, sequence  # noqa: F401
