"""The graph reader's einsum recognition (numpy only, no TensorFlow): which equations are a dot of two
activations, with which axes, and which are MultiHeadAttention's."""
import pytest

from export_tf.handlers.attention import _dot_axes
from export_tf.handlers.mha_graph import CONTEXT, KEY_FIRST, SCORES, is_einsum


@pytest.mark.parametrize("a,b,out,axes", [
    ("btc", "bsc", "bts", [2, 2]),       # scores of two sequences
    ("bts", "bsc", "btc", [2, 1]),       # weights times values (batch_matmul)
    ("bct", "bcs", "bts", [1, 1]),       # contracting the first axis of each
    ("bc", "btc", "bt", [1, 2]),         # a vector and a sequence
    ("bc", "bc", "b", [1, 1]),           # two vectors
])
def test_einsums_that_are_a_dot(a, b, out, axes):
    assert _dot_axes(a, b, out) == axes


@pytest.mark.parametrize("a,b,out", [
    ("bi", "bj", "bij"),                 # an outer product: nothing contracted
    ("btc", "bsc", "bst"),               # the output's axes in the other order (the caller swaps the operands)
    ("btc", "btc", "bt"),                # two shared axes
    ("btc", "bsc", "btsc"),              # the shared axis kept
    ("btc", "csb", "bts"),               # the batch not first in both
    ("bii", "bic", "bic"),               # a repeated letter (a diagonal)
])
def test_einsums_that_are_not(a, b, out):
    assert _dot_axes(a, b, out) is None


class _Attr(object):
    def __init__(self, text):
        self.s = text.encode()


class _Node(object):
    def __init__(self, equation, op="Einsum"):
        self.op = op
        self.attr = {"equation": _Attr(equation)}


@pytest.mark.parametrize("equation,pattern", [
    ("BTNH,BSNH->BNTS", SCORES),         # Keras 3
    ("aecd,abcd->acbe", KEY_FIRST),      # Keras 2: the key first
    ("BNTS,BSNH->BTNH", CONTEXT),
    ("acbe,aecd->abcd", CONTEXT),
])
def test_multi_head_attention_einsums_whatever_their_letters(equation, pattern):
    assert is_einsum(_Node(equation), *pattern)
    assert not is_einsum(_Node(equation, op="BatchMatMulV2"), *pattern)


@pytest.mark.parametrize("equation", ["BTNH,BSNH->BTNS", "BTNH,BSNH->BNTT", "BTNH,BSNN->BNTS", "BTNH,BSNH"])
def test_near_misses_are_not_multi_head_attention(equation):
    assert not any(is_einsum(_Node(equation), *p) for p in (SCORES, KEY_FIRST, CONTEXT))
