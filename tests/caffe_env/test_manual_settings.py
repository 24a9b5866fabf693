"""--prototxt compares your layers' settings with the generated ones: two spellings of one setting
(kernel_size vs kernel_h/kernel_w, an unset use_global_stats in TEST) are equal, a real difference is not."""
import pytest

pytest.importorskip("caffe")

from caffe.proto import caffe_pb2  # noqa: E402
from google.protobuf import text_format  # noqa: E402

from import_caffe.manual_match import _settings  # noqa: E402


def _param(text, field):
    layer = caffe_pb2.LayerParameter()
    text_format.Merge(text, layer)
    return _settings(getattr(layer, field))


def test_equivalent_spellings_compare_equal():
    assert _param("convolution_param { num_output: 4 kernel_size: 3 }", "convolution_param") == \
        _param("convolution_param { num_output: 4 kernel_h: 3 kernel_w: 3 stride_h: 1 stride_w: 1 }",
               "convolution_param")
    assert _param("pooling_param { pool: MAX kernel_size: 2 stride: 2 }", "pooling_param") == \
        _param("pooling_param { pool: MAX kernel_h: 2 kernel_w: 2 stride_h: 2 stride_w: 2 pad_h: 0 pad_w: 0 }",
               "pooling_param")
    assert _param("batch_norm_param { eps: 0.001 use_global_stats: true }", "batch_norm_param") == \
        _param("batch_norm_param { eps: 0.001 }", "batch_norm_param")


def test_real_differences_show():
    a = _param("convolution_param { num_output: 4 kernel_size: 3 pad: 1 }", "convolution_param")
    b = _param("convolution_param { num_output: 4 kernel_size: 3 }", "convolution_param")
    assert a["pad"] == [1, 1] and b["pad"] == [0, 0]
    assert _param("batch_norm_param { eps: 0.001 }", "batch_norm_param")["eps"] != \
        _param("batch_norm_param { }", "batch_norm_param")["eps"]
