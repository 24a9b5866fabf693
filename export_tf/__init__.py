"""TensorFlow side of tf2caffe: read a Keras model and write a portable bundle (see shared/)."""

__version__ = "0.1.0"
