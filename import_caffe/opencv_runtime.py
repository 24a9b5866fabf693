"""OpenCV's dnn, an optional dependency of the Caffe side: `make setup` installs opencv-python-headless
(registry.OPENCV_VERSION, the newest whose wheel supports Python 3.9 with numpy 1.19, as in Debian
bullseye's Caffe) into OPENCV_DIR of the Caffe root filesystem. Never needed for a plain import."""
import os
import sys

from .registry import OPENCV_VERSION

OPENCV_DIR = "/opt/tf2caffe-opencv"


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
