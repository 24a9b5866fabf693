"""The Caffe layer cases both runtime targets' layer tables are tested with (test_opencv_layers.py,
test_mnn_layers.py): every Caffe layer type the converter emits, in a small net with the settings the
handlers write, and its value in Caffe. Not a test module: imported by them (the Caffe environment's Python)."""
import os

import numpy as np

CASES = {  # case -> (inputs, layers); the layer type is the case up to a digit/suffix
 "AbsVal": ([("x",(2,3,4,5))], 'layer { name: "l" type: "AbsVal" bottom: "x" top: "y" }'),
 "BNLL": ([("x",(2,3,4,5))], 'layer { name: "l" type: "BNLL" bottom: "x" top: "y" }'),
 "BatchNorm": ([("x",(2,3,4,5))], 'layer { name: "l" type: "BatchNorm" bottom: "x" top: "y" batch_norm_param { use_global_stats: true eps: 0.001 } }'),
 "Bias": ([("x",(2,3,4,5))], 'layer { name: "l" type: "Bias" bottom: "x" top: "y" bias_param { axis: 1 num_axes: 1 } }'),
 "Bias2": ([("x",(2,3,4,5)),("b",(2,3))], 'layer { name: "l" type: "Bias" bottom: "x" bottom: "b" top: "y" bias_param { axis: 0 } }'),
 "Clip": ([("x",(2,3,4,5))], 'layer { name: "l" type: "Clip" bottom: "x" top: "y" clip_param { min: 0 max: 0.5 } }'),
 "Concat": ([("x",(2,3,4,5)),("z",(2,2,4,5))], 'layer { name: "l" type: "Concat" bottom: "x" bottom: "z" top: "y" concat_param { axis: 1 } }'),
 "Convolution": ([("x",(2,3,6,7))], 'layer { name: "l" type: "Convolution" bottom: "x" top: "y" convolution_param { num_output: 4 kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 0 dilation: 1 } }'),
 "ConvGroup": ([("x",(2,4,6,7))], 'layer { name: "l" type: "Convolution" bottom: "x" top: "y" convolution_param { num_output: 4 group: 4 kernel_h: 3 kernel_w: 3 pad_h: 2 pad_w: 2 dilation: 2 bias_term: false } }'),
 "Crop": ([("x",(2,3,6,7)),("r",(2,3,4,5))], 'layer { name: "l" type: "Crop" bottom: "x" bottom: "r" top: "y" crop_param { axis: 2 offset: 1 offset: 2 } }'),
 "Deconvolution": ([("x",(2,3,4,5))], 'layer { name: "l" type: "Deconvolution" bottom: "x" top: "y" convolution_param { num_output: 4 kernel_h: 3 kernel_w: 3 stride_h: 2 stride_w: 2 pad_h: 1 pad_w: 1 } }'),
 "Dropout": ([("x",(2,3,4,5))], 'layer { name: "l" type: "Dropout" bottom: "x" top: "y" }'),
 "ELU": ([("x",(2,3,4,5))], 'layer { name: "l" type: "ELU" bottom: "x" top: "y" elu_param { alpha: 0.7 } }'),
 "EltwiseSum": ([("x",(2,3,4,5)),("z",(2,3,4,5))], 'layer { name: "l" type: "Eltwise" bottom: "x" bottom: "z" top: "y" eltwise_param { operation: SUM coeff: 1 coeff: -0.5 } }'),
 "EltwiseProd": ([("x",(2,3,4,5)),("z",(2,3,4,5))], 'layer { name: "l" type: "Eltwise" bottom: "x" bottom: "z" top: "y" eltwise_param { operation: PROD } }'),
 "EltwiseMax": ([("x",(2,3,4,5)),("z",(2,3,4,5))], 'layer { name: "l" type: "Eltwise" bottom: "x" bottom: "z" top: "y" eltwise_param { operation: MAX } }'),
 "Embed": ([("x",(2,5))], 'layer { name: "l" type: "Embed" bottom: "x" top: "y" embed_param { num_output: 4 input_dim: 7 bias_term: false } }'),
 "Exp": ([("x",(2,3,4,5))], 'layer { name: "l" type: "Exp" bottom: "x" top: "y" exp_param { base: -1 scale: 0.5 shift: 0.1 } }'),
 "Flatten": ([("x",(2,3,4,5))], 'layer { name: "l" type: "Flatten" bottom: "x" top: "y" flatten_param { axis: 1 } }'),
 "InnerProduct": ([("x",(2,3,4,5))], 'layer { name: "l" type: "InnerProduct" bottom: "x" top: "y" inner_product_param { num_output: 6 } }'),
 "InnerProductAxis2": ([("x",(2,3,4))], 'layer { name: "l" type: "InnerProduct" bottom: "x" top: "y" inner_product_param { num_output: 6 axis: 2 } }'),
 "LRN": ([("x",(2,7,4,5))], 'layer { name: "l" type: "LRN" bottom: "x" top: "y" lrn_param { local_size: 5 alpha: 0.001 beta: 0.75 k: 2 } }'),
 "LRN1": ([("x",(2,7,4,5))], 'layer { name: "l" type: "LRN" bottom: "x" top: "y" lrn_param { local_size: 5 alpha: 0.001 beta: 0.75 k: 1 } }'),
 "LRNw": ([("x",(2,7,4,5))], 'layer { name: "l" type: "LRN" bottom: "x" top: "y" lrn_param { local_size: 3 alpha: 0.1 beta: 0.75 norm_region: WITHIN_CHANNEL } }'),
 "LogPlain": ([("x",(2,3,4,5))], 'layer { name: "a" type: "AbsVal" bottom: "x" top: "a" } layer { name: "l" type: "Log" bottom: "a" top: "y" }'),
 "MVNnv": ([("x",(2,3,4,5))], 'layer { name: "l" type: "MVN" bottom: "x" top: "y" mvn_param { normalize_variance: false } }'),
 "Log": ([("x",(2,3,4,5))], 'layer { name: "a" type: "AbsVal" bottom: "x" top: "a" } layer { name: "l" type: "Log" bottom: "a" top: "y" log_param { base: -1 scale: 1 shift: 1 } }'),
 "MVN": ([("x",(2,3,4,5))], 'layer { name: "l" type: "MVN" bottom: "x" top: "y" mvn_param { across_channels: true eps: 0.001 } }'),
 "PReLU": ([("x",(2,3,4,5))], 'layer { name: "l" type: "PReLU" bottom: "x" top: "y" prelu_param { channel_shared: false } }'),
 "PoolMax": ([("x",(2,3,7,7))], 'layer { name: "l" type: "Pooling" bottom: "x" top: "y" pooling_param { pool: MAX kernel_h: 3 kernel_w: 3 stride_h: 2 stride_w: 2 pad_h: 1 pad_w: 1 } }'),
 "PoolAve": ([("x",(2,3,7,7))], 'layer { name: "l" type: "Pooling" bottom: "x" top: "y" pooling_param { pool: AVE kernel_h: 3 kernel_w: 3 stride_h: 2 stride_w: 2 pad_h: 1 pad_w: 1 } }'),
 "PoolGlobal": ([("x",(2,3,7,7))], 'layer { name: "l" type: "Pooling" bottom: "x" top: "y" pooling_param { pool: AVE global_pooling: true } }'),
 "Power": ([("x",(2,3,4,5))], 'layer { name: "l" type: "Power" bottom: "x" top: "y" power_param { power: 2 scale: -0.5 shift: 1.5 } }'),
 "ReLU": ([("x",(2,3,4,5))], 'layer { name: "l" type: "ReLU" bottom: "x" top: "y" relu_param { negative_slope: 0.1 } }'),
 "Reduction": ([("x",(2,3,4,5))], 'layer { name: "l" type: "Reduction" bottom: "x" top: "y" reduction_param { operation: SUMSQ axis: 1 } }'),
 "ReductionMean": ([("x",(2,3,4,5))], 'layer { name: "l" type: "Reduction" bottom: "x" top: "y" reduction_param { operation: MEAN axis: 2 } }'),
 "Reshape": ([("x",(2,3,4,5))], 'layer { name: "l" type: "Reshape" bottom: "x" top: "y" reshape_param { shape { dim: 0 dim: 12 dim: 1 dim: 5 } } }'),
 "Scale": ([("x",(2,3,4,5))], 'layer { name: "l" type: "Scale" bottom: "x" top: "y" scale_param { axis: 1 num_axes: 1 bias_term: true } }'),
 "ScaleHW": ([("x",(2,3,4,5))], 'layer { name: "l" type: "Scale" bottom: "x" top: "y" scale_param { axis: 2 num_axes: 2 bias_term: false } }'),
 "Scale2": ([("x",(2,3,4,5)),("g",(2,3))], 'layer { name: "l" type: "Scale" bottom: "x" bottom: "g" top: "y" scale_param { axis: 0 } }'),
 "Sigmoid": ([("x",(2,3,4,5))], 'layer { name: "l" type: "Sigmoid" bottom: "x" top: "y" }'),
 "SliceSilence": ([("x",(2,3,6,7))], 'layer { name: "l" type: "Slice" bottom: "x" top: "y" top: "d1" slice_param { axis: 2 slice_point: 4 } } layer { name: "s" type: "Silence" bottom: "d1" }'),
 "Softmax": ([("x",(2,3,4,5))], 'layer { name: "l" type: "Softmax" bottom: "x" top: "y" softmax_param { axis: 1 } }'),
 "Softmax2": ([("x",(2,3,4,5))], 'layer { name: "l" type: "Softmax" bottom: "x" top: "y" softmax_param { axis: 2 } }'),
 "Split": ([("x",(2,3,4,5))], 'layer { name: "l" type: "Split" bottom: "x" top: "y" top: "y2" } layer { name: "e" type: "Eltwise" bottom: "y" bottom: "y2" top: "z" }'),
 "Swish": ([("x",(2,3,4,5))], 'layer { name: "l" type: "Swish" bottom: "x" top: "y" swish_param { beta: 1.0 } }'),
 "TanH": ([("x",(2,3,4,5))], 'layer { name: "l" type: "TanH" bottom: "x" top: "y" }'),
 "Threshold": ([("x",(2,3,4,5))], 'layer { name: "l" type: "Threshold" bottom: "x" top: "y" threshold_param { threshold: 0.2 } }'),
 "Tile": ([("x",(2,3,4,5))], 'layer { name: "l" type: "Tile" bottom: "x" top: "y" tile_param { axis: 1 tiles: 3 } }'),
 "Parameter": ([("x",(2,3))], 'layer { name: "p" type: "Parameter" top: "c" parameter_param { shape { dim: 2 dim: 3 } } } layer { name: "l" type: "Eltwise" bottom: "x" bottom: "c" top: "y" }'),
 "SPP": ([("x",(2,3,8,8))], 'layer { name: "l" type: "SPP" bottom: "x" top: "y" spp_param { pyramid_height: 2 pool: MAX } }'),
 "BatchReindex": ([("x",(3,3)),("i",(3,))], 'layer { name: "l" type: "BatchReindex" bottom: "x" bottom: "i" top: "y" }'),
 "Filter": ([("x",(3,3)),("i",(3,))], 'layer { name: "l" type: "Filter" bottom: "x" bottom: "i" top: "y" }'),
 "LSTM": ([("x",(3,2,4)),("c",(3,2))], 'layer { name: "l" type: "LSTM" bottom: "x" bottom: "c" top: "y" recurrent_param { num_output: 5 } }'),
 "RNN": ([("x",(3,2,4)),("c",(3,2))], 'layer { name: "l" type: "RNN" bottom: "x" bottom: "c" top: "y" recurrent_param { num_output: 5 } }'),
}

# the case's layer type, where its name is not the type itself
TYPE_OF = {"Bias2": "Bias", "ConvGroup": "Convolution", "EltwiseSum": "Eltwise", "EltwiseProd": "Eltwise",
           "EltwiseMax": "Eltwise", "InnerProductAxis2": "InnerProduct", "LRN1": "LRN", "LRNw": "LRN",
           "LogPlain": "Log", "MVNnv": "MVN", "PoolMax": "Pooling", "PoolAve": "Pooling", "PoolGlobal": "Pooling",
           "ReductionMean": "Reduction", "ScaleHW": "Scale", "Scale2": "Scale", "SliceSilence": "Slice",
           "Softmax2": "Softmax"}
CASES["Silence"] = CASES["SliceSilence"]


def feed(case, name, shape, rng):
    if case == "Embed":
        return rng.randint(0, 7, shape).astype(np.float32)
    if case == "BatchReindex" and name == "i":
        return np.array([2, 0, 1], np.float32)
    if case == "Filter" and name == "i":
        return np.array([1, 0, 1], np.float32)
    if name == "c":
        return np.array([[0, 0]] + [[1, 1]] * (shape[0] - 1), np.float32)
    return rng.randn(*shape).astype(np.float32)




def caffe_case(case, tmp):
    """Write the case's net with random weights into `tmp` and run it in Caffe: (prototxt, caffemodel,
    {input: value}, top, layer, Caffe's value of top). `layer` is the case's layer and `top` its top."""
    import caffe
    inputs, body = CASES[case]
    text = 'name: "p"\n' + "".join('layer { name: "%s" type: "Input" top: "%s" input_param { shape { %s } } }\n'
                                    % (n, n, " ".join("dim: %d" % d for d in s)) for n, s in inputs) + body
    proto, weights = os.path.join(tmp, "n.prototxt"), os.path.join(tmp, "n.caffemodel")
    with open(proto, "w") as f:
        f.write(text)
    rng = np.random.RandomState(0)
    net = caffe.Net(proto, caffe.TEST)
    for blobs in net.params.values():
        for b in blobs:
            b.data[...] = rng.uniform(0.5, 1.5, b.data.shape) if case == "BatchNorm" else rng.randn(*b.data.shape)
    if case == "BatchNorm":
        net.params["l"][2].data[...] = 1.0
    net.save(weights)
    values = dict((n, feed(case, n, s, rng)) for n, s in inputs)
    for n, v in values.items():
        net.blobs[n].data[...] = v
    net.forward()
    top, layer = ("z", "e") if case == "Split" else ("y", "l")
    return proto, weights, values, top, layer, net.blobs[top].data.copy()


def agrees(ref, got, rel=1e-5):
    """Whether a runtime's value (an array, or the text of its error) holds Caffe's within `rel` of its range."""
    if isinstance(got, str) or got is None or got.size != ref.size:
        return False
    got = got.reshape(ref.shape)
    return float(np.abs(got - ref).max()) <= rel * max(float(np.abs(ref).max()), 1e-12)
