"""Exporter handlers, one module per layer family (the same family names as import_caffe/handlers), each
holding the family's Keras layer handlers and its TF op lowerings; export_tf/registry.py lists the
families and imports them by name."""
