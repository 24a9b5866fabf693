"""A --verify-with runtime for tests/e2e/test_verify_with.py, run in the Caffe environment:

    python3 tests/e2e/fake_runtime.py MODE BUNDLE -o OUT [import options...]

registers itself as runtime `fake` (import_caffe.runtimes.RUNTIMES) and runs the import's CLI. It "runs"
the net with pycaffe itself, so it agrees with Caffe exactly, and then misbehaves as MODE says:
  same     returns Caffe's blobs
  inner    the first blob after the outputs is off by 1e-3 of its range (a layer read wrongly)
  output   the outputs are off by 1e-3 of their range
  broken   cannot load the net (RuntimeFailure)
  crash    aborts the process (a native crash)
  missing  is not installed (unavailable())"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from import_caffe import runtimes  # noqa: E402
from import_caffe.runtimes import RuntimeFailure  # noqa: E402

NAME = "fake"
TARGET = "opencv"
MODE = sys.argv[1] if __name__ == "__main__" else "same"


def describe():
    return "fake runtime 0.1 (%s)" % MODE


def unavailable():
    return "the fake runtime is not installed; make setup installs it" if MODE == "missing" else None


def run(prototxt, caffemodel, inputs, want):
    if MODE == "broken":
        raise RuntimeFailure("the fake runtime cannot load %s" % os.path.basename(prototxt))
    if MODE == "crash":
        os.abort()
    import caffe
    from import_caffe.caffe_stage import feed
    net = caffe.Net(prototxt, caffemodel, caffe.TEST)
    feed(net, inputs)
    net.forward()
    got = dict((blob, net.blobs[blob].data.copy()) for blob in want)
    off = {"inner": [b for b in want if b not in net.outputs][:1], "output": list(net.outputs)}.get(MODE, [])
    for blob in off:
        got[blob] += 1e-3 * abs(got[blob]).max()
    return got


if __name__ == "__main__":
    runtimes.RUNTIMES[NAME] = sys.modules[__name__]
    from import_caffe.cli import main
    sys.exit(main(sys.argv[2:]))
