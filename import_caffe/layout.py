"""Every permutation between TF layout and Caffe layout, in one place.

The bundle is TF layout by contract (activations NHWC, kernels as Keras stores them). Caffe is NCHW.
A TF tensor lives in a Caffe blob in one of four layouts:

* IMAGE    — TF (N, H, W, C) is Caffe (N, C, H, W).
* SEQUENCE — TF (N, L, C) is Caffe (N, C, 1, L): an image one row high, so Convolution and Pooling
             with 1xK windows act along the sequence.
* VECTOR   — TF (N, C) is Caffe (N, C), same order.
* FLAT_CHW — TF (N, H*W*C), flattened in HWC order, is Caffe (N, C*H*W) flattened in CHW order:
             the same values in another order. Consumers either absorb the permutation (a Dense
             permutes its kernel rows) or the planner restores HWC order first. A flattened
             sequence (L, C) is FLAT_CHW with hwc = (1, L, C).
"""
import collections

import numpy as np

IMAGE = "image"
SEQUENCE = "sequence"
VECTOR = "vector"
FLAT_CHW = "flat_chw"


class Layout(collections.namedtuple("Layout", "kind hwc")):
    """kind is IMAGE, VECTOR or FLAT_CHW; hwc is the (H, W, C) a FLAT_CHW tensor was flattened from."""

    __slots__ = ()

    def __new__(cls, kind, hwc=None):
        return super(Layout, cls).__new__(cls, kind, tuple(hwc) if hwc is not None else None)


def layout_for_shape(tf_shape):
    """The natural layout of a TF tensor shape (without batch)."""
    if len(tf_shape) == 3:
        return Layout(IMAGE)
    if len(tf_shape) == 2:
        return Layout(SEQUENCE)
    if len(tf_shape) == 1:
        return Layout(VECTOR)
    raise ValueError("no Caffe layout for a tensor of shape %r" % (tuple(tf_shape),))


def caffe_shape(tf_shape, layout):
    """The Caffe blob shape (without batch) holding a TF tensor of tf_shape in layout."""
    if layout.kind == IMAGE:
        h, w, c = tf_shape
        return [c, h, w]
    if layout.kind == SEQUENCE:
        length, c = tf_shape
        return [c, 1, length]
    return [int(np.prod(tf_shape))]


def as_hwc(tf_shape, layout):
    """(H, W, C) of the Caffe (N, C, H, W) blob holding an IMAGE or SEQUENCE tensor: a sequence
    (L, C) is an image (1, L, C). Lets image lowerings (1x1 Convolution, Pooling, reordering) serve
    sequences."""
    if layout.kind == IMAGE:
        return tuple(tf_shape)
    if layout.kind == SEQUENCE:
        return (1, tf_shape[0], tf_shape[1])
    raise ValueError("a %s tensor is not held as (N, C, H, W)" % layout.kind)


# --------------------------------------------------------------------------------- activations

def nhwc_to_nchw(x):
    return np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2)))


def nchw_to_nhwc(x):
    return np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1)))


def nlc_to_nc1l(x):
    """A TF sequence (N, L, C) as the Caffe blob (N, C, 1, L)."""
    return np.ascontiguousarray(np.transpose(x, (0, 2, 1))[:, :, None, :])


def nc1l_to_nlc(x):
    """A Caffe (N, C, 1, L) blob as the TF sequence (N, L, C)."""
    n, c, one, length = x.shape
    if one != 1:
        raise ValueError("a sequence blob has height 1, found %r" % (x.shape,))
    return np.ascontiguousarray(np.transpose(x.reshape(n, c, length), (0, 2, 1)))


def hwc_to_chw_order(h, w, c):
    """Index array p with chw_flat = hwc_flat[:, p] for a (h, w, c) tensor."""
    return np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).reshape(-1)


def chw_to_hwc_order(h, w, c):
    """Index array p with hwc_flat = chw_flat[:, p] (the inverse of hwc_to_chw_order)."""
    return np.arange(h * w * c).reshape(c, h, w).transpose(1, 2, 0).reshape(-1)


def activation_to_caffe(x, layout):
    """A TF activation (batch first) as Caffe would hold it."""
    if layout.kind == IMAGE:
        return nhwc_to_nchw(x)
    if layout.kind == SEQUENCE:
        return nlc_to_nc1l(x)
    if layout.kind == FLAT_CHW:
        return np.ascontiguousarray(x[:, hwc_to_chw_order(*layout.hwc)])
    return np.ascontiguousarray(x)


def activation_to_tf(x, layout, tf_shape):
    """A Caffe blob's data (batch first) in TF layout and shape."""
    return np.ascontiguousarray(activation_view_in_tf(x, layout, tf_shape))


def activation_view_in_tf(x, layout, tf_shape):
    """activation_to_tf without the copy where a view will do (images, sequences): for reading only."""
    n = x.shape[0]
    if layout.kind == IMAGE:
        return np.transpose(x.reshape([n] + caffe_shape(tf_shape, layout)), (0, 2, 3, 1))
    if layout.kind == SEQUENCE:
        return np.transpose(x.reshape([n] + caffe_shape(tf_shape, layout))[:, :, 0, :], (0, 2, 1))
    x = x.reshape(n, -1)
    if layout.kind == FLAT_CHW:
        x = x[:, chw_to_hwc_order(*layout.hwc)]
    return x.reshape([n] + list(tf_shape))


def tf_axes_in_caffe_order(layout):
    """The TF axes (without batch) in the order the Caffe blob stores them, viewing a SEQUENCE blob
    (N, C, 1, L) as (N, C, L): IMAGE (2, 0, 1), SEQUENCE (1, 0), VECTOR (0,)."""
    return {IMAGE: (2, 0, 1), SEQUENCE: (1, 0), VECTOR: (0,)}[layout.kind]


def caffe_axis(tf_axis, layout):
    """Caffe axis of a TF axis (full-rank, batch = 0, negatives allowed) of a tensor in layout."""
    if layout.kind == IMAGE:
        return {0: 0, 1: 2, 2: 3, 3: 1, -1: 1, -2: 3, -3: 2, -4: 0}[tf_axis]
    if layout.kind == SEQUENCE:
        return {0: 0, 1: 3, 2: 1, -1: 1, -2: 3, -3: 0}[tf_axis]
    if layout.kind == VECTOR:
        return {0: 0, 1: 1, -1: 1, -2: 0}[tf_axis]
    raise ValueError("axis of a FLAT_CHW tensor has no Caffe equivalent")


# --------------------------------------------------------------------------------- weights

def conv_kernel(kernel):
    """Conv2D kernel TF (kh, kw, in, out) -> Caffe Convolution (out, in, kh, kw)."""
    return rearranged(kernel, (3, 2, 0, 1), (kernel.shape[3], kernel.shape[2], kernel.shape[0], kernel.shape[1]))


def depthwise_kernel(kernel):
    """DepthwiseConv2D kernel TF (kh, kw, in, mult) -> Caffe Convolution with group=in:
    (in * mult, 1, kh, kw), where output channel c * mult + m reads input channel c."""
    kh, kw, cin, mult = kernel.shape
    return np.ascontiguousarray(np.transpose(kernel, (2, 3, 0, 1)).reshape(cin * mult, 1, kh, kw))


def dense_kernel_after_flatten(kernel, hwc):
    """Dense kernel TF (H*W*C, out) reading an HWC-flattened tensor -> Caffe InnerProduct (out, C*H*W)
    reading the CHW-flattened blob: (H*W, C, out) transposed to (out, C, H*W)."""
    h, w, c = hwc
    out = kernel.shape[1]
    return rearranged(kernel.reshape(h * w, c, out), (2, 1, 0), (out, c * h * w))


def dense_kernel(kernel):
    """Dense kernel TF (in, out) -> Caffe InnerProduct (out, in)."""
    return rearranged(kernel, (1, 0), (kernel.shape[1], kernel.shape[0]))


def dense_kernel_as_conv1x1(kernel):
    """Dense kernel TF (C, out) applied to the channel axis of an image -> Caffe 1x1 Convolution
    (out, C, 1, 1)."""
    return rearranged(kernel, (1, 0), (kernel.shape[1], kernel.shape[0], 1, 1))


# Weight blobs this large are not rearranged in memory: copying 500 MB into fresh memory costs about as
# much in page faults as in copying. They stay views of the bundle's arrays until the weights writer
# copies them, block by block, through small buffers (netbuild).
LAZY_BYTES = 1 << 20


def rearranged(source, perm, shape):
    """The Caffe blob of `shape` whose elements, in C order, are source.transpose(perm)'s: an array, or
    for LAZY_BYTES and more a Rearranged that is copied only as it is written."""
    if source.nbytes < LAZY_BYTES:
        return np.ascontiguousarray(np.transpose(source, perm)).reshape(shape)
    return Rearranged(source, perm, shape)


class Rearranged(object):
    """A weight blob in Caffe layout that is a transposition of a TF array, not copied yet: shape, size,
    nbytes, ndim and dtype like an array's; np.asarray(blob) copies it whole; blocks() yields it in
    pieces of whole rows (rows: the first Caffe axis). perm[0] must be the source's last axis (TF keeps
    the output channels last), so a piece reads contiguous runs of the source, then transposes them
    within the cache."""

    BLOCK_BYTES = 4 << 20

    def __init__(self, source, perm, shape):
        self.source = source
        self.perm = tuple(perm)
        self.shape = tuple(int(d) for d in shape)
        self.dtype = source.dtype
        self.size = int(source.size)
        self.nbytes = int(source.nbytes)
        self.ndim = len(self.shape)
        if self.perm[0] != source.ndim - 1 or sorted(self.perm) != list(range(source.ndim)):
            raise ValueError("Rearranged: perm %r must start with the source's last axis" % (self.perm,))
        if int(np.prod(self.shape, dtype=np.int64)) != self.size or self.shape[0] != source.shape[-1]:
            raise ValueError("Rearranged: shape %r does not fit %r" % (self.shape, source.shape))

    def __array__(self, dtype=None, copy=None):        # always a new array (numpy 2 passes copy=)
        out = np.ascontiguousarray(np.transpose(self.source, self.perm)).reshape(self.shape)
        return out if dtype is None else out.astype(dtype)

    def astype(self, dtype):
        return np.asarray(self).astype(dtype)

    def blocks(self, buffers=1):
        """(first row, array of whole rows) in order, through `buffers` reused buffers in turn: a piece
        stays valid until `buffers` more pieces have been produced."""
        rows = self.shape[0]
        if not self.size:
            return
        step = max(1, self.BLOCK_BYTES // (self.nbytes // rows))
        width = min(step, rows)
        gathered = [np.empty(self.source.shape[:-1] + (width,), self.dtype) for _ in range(buffers)]
        pieces = [np.empty((width,) + self.shape[1:], self.dtype) for _ in range(buffers)]
        moved = tuple(self.source.shape[i] for i in self.perm[1:])
        for n, start in enumerate(range(0, rows, step)):
            count = min(step, rows - start)
            tmp = gathered[n % buffers][..., :count]
            tmp[...] = self.source[..., start:start + count]           # contiguous runs of `count` values
            piece = pieces[n % buffers][:count]
            piece.reshape((count,) + moved)[...] = np.transpose(tmp, self.perm)
            yield start, piece


def conv1d_kernel(kernel):
    """Conv1D kernel TF (k, in, out) -> Caffe Convolution with a 1xK window (out, in, 1, k)."""
    return np.ascontiguousarray(np.transpose(kernel, (2, 1, 0))[:, :, None, :])


def depthwise1d_kernel(kernel):
    """DepthwiseConv1D kernel TF (k, in, mult) -> Caffe Convolution with group=in and a 1xK window:
    (in * mult, 1, 1, k), where output channel c * mult + m reads input channel c."""
    k, cin, mult = kernel.shape
    return np.ascontiguousarray(np.transpose(kernel, (1, 2, 0)).reshape(cin * mult, 1, 1, k))


def embedding_matrix(embeddings):
    """Embedding matrix TF (input_dim, output_dim) -> Caffe Embed weight (input_dim, output_dim):
    the same array (Caffe's Embed reads row `index`, as TF does)."""
    return np.ascontiguousarray(embeddings)


def channel_vector(values, channels):
    """A per-channel parameter (a scalar or C values) as a (C,) float32 Caffe blob."""
    arr = np.asarray(values, dtype=np.float32).reshape(-1)
    if arr.size == 1:
        arr = np.full(channels, arr[0], dtype=np.float32)
    return np.ascontiguousarray(arr)
