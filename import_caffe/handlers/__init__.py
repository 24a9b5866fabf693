"""Importer handlers, one module per layer family (the same family names as export_tf/handlers and
shared/opspec); import_caffe/registry.py imports them by name."""
