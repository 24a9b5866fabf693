"""Caffe side of tf2caffe: read a bundle, generate the Caffe net, fill its weights, prove parity.

Runs on Python 3.8+ with numpy, stock pycaffe (and h5py for .h5 bundles); never imports TensorFlow.
Only the orchestrator modules (netbuild, caffe_stage, convert) touch caffe; everything else is pure.
"""

__version__ = "0.1.0"
