"""Runtimes that load the written Caffe files themselves, for `--verify-with NAME[,NAME]`: after the Caffe
parity check passes, each requested runtime runs the published .prototxt + .caffemodel on the reference
inputs and the import compares what it produced (runtime_check.py; one comparison, one tolerance, one
verdict for every runtime).

RUNTIMES is the one registry: --verify-with name -> module. A runtime module defines

  NAME         str: the --verify-with name ("opencv")
  TARGET       str: the --target whose lowering the runtime needs ("opencv"; a registry.RUNTIME_TARGETS key)
  describe()   -> str naming the runtime and its version ("OpenCV dnn 4.11.0.86")
  unavailable() -> None when the runtime can be loaded here, else a one-line reason saying how to install
               it (make setup). Cheap: called before converting, so a missing runtime is refused up front.
  run(prototxt, caffemodel, inputs, want)
               inputs: {Caffe input blob name: float32 array in Caffe layout, batch N first};
               want: blob names, the net's outputs first, then other blobs it may try.
               Returns {blob name: float32 array in Caffe layout} for those it could produce (every
               output must be there, in any shape holding the same values in Caffe's order). Raises
               RuntimeFailure(message) when it cannot load, convert or run the net.

Runtimes never compare or judge: they run and return values. They are optional dependencies of the Caffe
side (pinned, installed by make setup), imported lazily, never needed for a plain import.
"""
from . import mnn, opencv


class RuntimeFailure(Exception):
    """The runtime could not load, convert or run the net: a one-line message saying what failed."""


RUNTIMES = {
    opencv.NAME: opencv,
    mnn.NAME: mnn,
}
