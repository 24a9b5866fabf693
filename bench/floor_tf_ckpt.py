"""The floor of a TF1 checkpoint's export (TF environment): TF restores the checkpoint and runs the
graph once, on 2 random inputs. python bench/floor_tf_ckpt.py PREFIX INPUT OUTPUT"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

v1 = tf.compat.v1
prefix, inp, out = sys.argv[1:4]
graph = tf.Graph()
with graph.as_default():
    saver = v1.train.import_meta_graph(prefix + ".meta", clear_devices=True)
    x = graph.get_tensor_by_name(inp + ":0")
    shape = [2] + x.shape.as_list()[1:]
    with v1.Session(graph=graph) as sess:
        saver.restore(sess, prefix)
        sess.run(graph.get_tensor_by_name(out + ":0"),
                 {x: np.random.default_rng(0).standard_normal(shape).astype(np.float32)})
