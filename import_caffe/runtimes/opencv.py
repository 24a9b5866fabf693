"""OpenCV's dnn (cv2.dnn.readNetFromCaffe) as a --verify-with runtime: see runtimes/__init__.py for the
contract. OpenCV addresses layers, not blobs: it outputs a layer's first top under the layer's name (its
other tops are not kept: forwardAndRetrieve returns them, but in buffers later layers have reused), and its
Caffe importer names a Convolution / Deconvolution layer after its top, so a blob is asked for under the
name of the last layer writing it (in-place layers hold its final value) when it is that layer's first top.

OpenCV is an optional dependency of the Caffe side: `make setup` (and docker/Dockerfile.caffe) install
opencv-python-headless (registry.OPENCV_VERSION, the newest whose wheel supports Python 3.9 with numpy 1.19,
as in Debian bullseye's Caffe) into OPENCV_DIR. Never needed for a plain import."""
import os
import re
import sys

import numpy as np

from ..netbuild import prototxt_layers
from ..registry import OPENCV_VERSION

NAME = "opencv"
TARGET = "opencv"
OPENCV_DIR = "/opt/tf2caffe-opencv"
_RENAMED_TO_TOP = ("Convolution", "Deconvolution")


def load_cv2():
    """The cv2 module (ImportError naming what to install when it is missing)."""
    try:
        import cv2
        return cv2
    except ImportError:
        pass
    if os.path.isdir(OPENCV_DIR) and OPENCV_DIR not in sys.path:
        sys.path.append(OPENCV_DIR)
    try:
        import cv2
    except ImportError as exc:
        raise ImportError("OpenCV (opencv-python-headless %s) is not installed here (%s); make setup installs it into "
                          "%s of the Caffe root filesystem" % (OPENCV_VERSION, exc, OPENCV_DIR))
    return cv2


def describe():
    try:
        return "OpenCV dnn %s" % load_cv2().__version__
    except ImportError:
        return "OpenCV dnn (opencv-python-headless %s, not installed)" % OPENCV_VERSION


def unavailable():
    try:
        load_cv2()
    except ImportError:
        return ("OpenCV (opencv-python-headless %s) is not installed in the Caffe environment; make setup "
                "installs it into %s" % (OPENCV_VERSION, OPENCV_DIR))
    return None


def cv_names(layers, want):
    """{blob: the OpenCV layer outputting it} for the blobs of `want` that are the first top of their last writer."""
    producer = {}
    for name, kind, _, tops in layers:
        for index, top in enumerate(tops):
            producer[top] = (top if kind in _RENAMED_TO_TOP else name, index)
    return dict((blob, producer[blob][0]) for blob in want if blob in producer and producer[blob][1] == 0)


def _one_line(exc):
    text = str(exc).strip().splitlines()
    found = [l for l in text if re.search(r"error|Can't", l)]
    line = (found or text or [type(exc).__name__])[-1].strip()
    # "OpenCV(4.11.0) /io/opencv/modules/.../net_impl.hpp:108: error: (-2:Unspecified error) Can't create ..."
    return re.sub(r"^OpenCV\([^)]*\) \S+ error: \(-?\d+:[^)]*\) ", "", line)[:300]


def run(prototxt, caffemodel, inputs, want):
    from . import RuntimeFailure
    cv2 = load_cv2()
    try:
        net = cv2.dnn.readNetFromCaffe(prototxt, caffemodel)
    except cv2.error as exc:
        raise RuntimeFailure("cv2.dnn.readNetFromCaffe could not load the net: %s" % _one_line(exc))
    known = set(net.getLayerNames())
    wanted = [(blob, name) for blob, name in cv_names(prototxt_layers(prototxt), want).items() if name in known]
    for blob, value in inputs.items():
        net.setInput(np.ascontiguousarray(value, dtype=np.float32), blob)
    try:
        got = net.forward([name for _, name in wanted]) if wanted else []
    except cv2.error as exc:
        raise RuntimeFailure("OpenCV's forward pass failed: %s" % _one_line(exc))
    return dict((blob, np.asarray(value, dtype=np.float32)) for (blob, _), value in zip(wanted, got))
