"""Pure parts of the graph lowering (numpy only, no TensorFlow): which constants are per-channel."""
import numpy as np

from export_tf.graphdef.lower import channel_vector, supported_ops


def test_channel_vectors():
    assert channel_vector(np.float32(2.0), 3, 4).tolist() == [2.0, 2.0, 2.0]
    assert channel_vector(np.arange(3).reshape(1, 1, 1, 3), 3, 4).tolist() == [0.0, 1.0, 2.0]
    assert channel_vector(np.arange(3), 3, 2).dtype == np.float32
    assert channel_vector(np.ones((2, 5, 5, 3)), 3, 4).tolist() == [1.0, 1.0, 1.0]   # one repeated value


def test_what_is_not_a_channel_vector():
    assert channel_vector(np.arange(6).reshape(2, 3), 3, 4) is None          # varies along another axis
    assert channel_vector(np.arange(4), 3, 4) is None                        # wrong channel count
    assert channel_vector(np.zeros((1, 1, 1, 1, 3)), 3, 4) is None           # higher rank than the tensor
    assert channel_vector(np.array([True, False, True]), 3, 2) is None       # not a number


def test_the_seed_questions_ops_are_registered():
    ops = supported_ops()
    for op in ("Conv2D", "BiasAdd", "Relu", "MaxPool", "Reshape", "MatMul", "Softmax", "Conv2DBackpropInput",
               "DepthwiseConv2dNative", "FusedBatchNormV3", "ResizeNearestNeighbor", "Pad", "ConcatV2", "Mean"):
        assert op in ops, op
