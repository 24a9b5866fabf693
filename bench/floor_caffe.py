"""The import's floor (Caffe environment): stock pycaffe loads the produced net and weights and saves
them again, in the same weight format. python3 bench/floor_caffe.py NET.prototxt WEIGHTS OUT"""
import os
import sys

os.environ.setdefault("GLOG_minloglevel", "2")

import caffe  # noqa: E402

proto, weights, out = sys.argv[1:4]
caffe.set_mode_cpu()
net = caffe.Net(proto, weights, caffe.TEST)
if weights.endswith(".h5"):
    net.save_hdf5(out)
else:
    net.save(out)
