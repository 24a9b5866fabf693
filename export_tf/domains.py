"""What values each model input expects (its domain), and the reference inputs drawn from it: one rule for
both readers (Keras: export_tf/reference.py; graphs: export_tf/graphdef/reference.py), recorded in the
bundle (reference.input_domains) and shown in the report.

* ids      an input that reaches an Embedding through layers that keep its values (reshapes, crops,
           repeats, concatenation, dropout and the other identities at inference), whatever its declared
           dtype: integers drawn uniformly from [0, input_dim), the smallest input_dim among the Embeddings
           it reaches. Any other value is no id: TF truncates a float to an integer and wraps a negative
           one, while Caffe's Embed does no range check and reads outside its table, so the two would
           disagree (or Caffe read memory it does not own) on inputs the model never gets.
           An input declared with an integer dtype that reaches no Embedding: [0, 10).
* pixels   an input whose every path starts (after layers that keep values) with a Rescaling that maps
           [0, 255] onto [0, 1] or [-1, 1] to within 1% (x / 255, x / 127.5 - 1, x / 128 - 1): the 8-bit
           images such a front end was written for, integers drawn uniformly from 0..255. The graph reader
           applies the same rule to a Mul or RealDiv by a constant (and an Add or Sub of one) right after
           the placeholder.
* real     any other input: standard normal values.

Inputs given with --reference-inputs are used as given (ids are checked to be valid); their domain is
recorded all the same."""
import collections

import numpy as np

from shared.errors import UsageError

IDS, PIXELS, REAL = "ids", "pixels", "real"
DEFAULT_ID_RANGE = 10           # an integer input that feeds no Embedding: ids in [0, 10)
PIXEL_RANGE = (0, 255)
_UNIT_RANGES = ((0.0, 1.0), (-1.0, 1.0))
_PIXEL_SLACK = 0.01 * PIXEL_RANGE[1]    # 1%: x / 128 - 1 maps [0, 256] onto [-1, 1]

# Keras layers whose output holds the values of their input(s), rearranged (or unchanged at inference)
KEEPS_VALUES = frozenset((
    "Reshape", "Flatten", "Permute", "Cropping1D", "RepeatVector", "Concatenate", "Identity", "Dropout",
    "SpatialDropout1D", "SpatialDropout2D", "GaussianDropout", "GaussianNoise", "AlphaDropout",
))


class Domain(collections.namedtuple("Domain", "kind low high reason")):
    """kind IDS (integers in [low, high)), PIXELS (values in [low, high]) or REAL (low, high None)."""

    __slots__ = ()

    def record(self):
        """The manifest's reference.input_domains entry."""
        return {"kind": self.kind, "low": self.low, "high": self.high, "reason": self.reason[:256]}


def real(reason="no layer restricts its values"):
    return Domain(REAL, None, None, reason)


def ids(high, reason):
    return Domain(IDS, 0, int(high), reason)


def pixel_front_end(scale, offset):
    """Whether x * scale + offset maps [0, 255] onto [0, 1] or [-1, 1] (to within 1% of 255)."""
    if not scale or not np.isfinite(scale) or not np.isfinite(offset):
        return False
    for low, high in _UNIT_RANGES:
        a, b = sorted(((low - offset) / scale, (high - offset) / scale))
        if abs(a - PIXEL_RANGE[0]) <= _PIXEL_SLACK and abs(b - PIXEL_RANGE[1]) <= _PIXEL_SLACK:
            return True
    return False


def pixels(reason):
    return Domain(PIXELS, PIXEL_RANGE[0], PIXEL_RANGE[1], reason)


def draw(domain, shape, rng):
    """Reference values of one input (float32: Caffe blobs are float)."""
    if domain.kind == IDS:
        return rng.integers(domain.low, domain.high, shape).astype(np.float32)
    if domain.kind == PIXELS:
        return rng.integers(domain.low, domain.high + 1, shape).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


def check_given(name, domain, value):
    """The user's reference values for an id input must be ids the model accepts."""
    if domain.kind != IDS or not value.size:
        return
    if not np.all(value == np.round(value)) or value.min() < domain.low or value.max() >= domain.high:
        raise UsageError("reference input for %r must hold integer indices in [%d, %d) (%s)"
                         % (name, domain.low, domain.high, domain.reason))


def _scalar(value):
    """The one number a scale or offset holds (a list of equal values counts), else None."""
    flat = np.asarray(value, dtype=np.float64).reshape(-1)
    return float(flat[0]) if flat.size and np.all(flat == flat[0]) else None


def keras_domain(graph, tensor, integer):
    """The Domain of the Keras model input `tensor` (export_tf/graph.Graph); integer: it is declared with
    an integer dtype."""
    consumers = {}
    for node in graph.nodes:
        for t in node.inputs:
            consumers.setdefault(t, []).append(node)
    embeddings, firsts, seen, todo = [], [], set(), [tensor]
    while todo:
        t = todo.pop()
        for node in consumers.get(t, []):
            if node.name in seen:
                continue
            seen.add(node.name)
            kind = node.class_name
            if kind in KEEPS_VALUES:
                todo.extend(node.outputs)
            elif kind == "Embedding" and hasattr(node.layer, "input_dim"):
                embeddings.append(node)
            else:
                firsts.append(node)
    if embeddings:
        smallest = min(embeddings, key=lambda n: int(n.layer.input_dim))
        more = " and %d more" % (len(embeddings) - 1) if len(embeddings) > 1 else ""
        return ids(smallest.layer.input_dim, "reaches Embedding %r (input_dim %d)%s"
                   % (smallest.name, int(smallest.layer.input_dim), more))
    if integer:
        return ids(DEFAULT_ID_RANGE, "declared with an integer dtype; reaches no Embedding")
    if firsts and all(_is_pixel_rescaling(n) for n in firsts):
        config = firsts[0].layer.get_config()
        return pixels("its front end, Rescaling %r (x * %.6g + %.6g), maps 0..255 onto %s"
                      % (firsts[0].name, _scalar(config.get("scale", 1.0)), _scalar(config.get("offset", 0.0)),
                         _target(_scalar(config.get("scale", 1.0)), _scalar(config.get("offset", 0.0)))))
    return real()


def _is_pixel_rescaling(node):
    if node.class_name != "Rescaling":
        return False
    config = node.layer.get_config()
    scale, offset = _scalar(config.get("scale", 1.0)), _scalar(config.get("offset", 0.0))
    return scale is not None and offset is not None and pixel_front_end(scale, offset)


def _target(scale, offset):
    return "[%.3g, %.3g]" % tuple(sorted((offset, 255 * scale + offset)))


def graph_domain(scale, offset, what):
    """The Domain of a graph input whose first ops compute x * scale + offset (both numbers), or REAL."""
    if scale is not None and pixel_front_end(scale, offset):
        return pixels("its front end, %s (x * %.6g + %.6g), maps 0..255 onto %s"
                      % (what, scale, offset, _target(scale, offset)))
    return real()


def made(by_tensor, given, seed):
    """How the reference inputs were made, as the manifest records it (shared/schema.py): by_tensor:
    model input tensor id -> Domain; given: the user gave them (--reference-inputs); seed: else, the
    seed they were drawn with."""
    return {"inputs_made": "given" if given else "generated", "seed": None if given else int(seed),
            "input_domains": dict((tensor, domain.record()) for tensor, domain in by_tensor.items())}
