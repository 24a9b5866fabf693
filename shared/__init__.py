"""What export_tf and import_caffe agree on: the bundle format, its schema and the error types.

Python 3.8 compatible, numpy-only (h5py for .h5 bundles); never imports TensorFlow or Caffe.
"""
