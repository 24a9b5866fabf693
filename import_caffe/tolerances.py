"""Parity tolerances: one table, a reason per entry. Every difference is measured relative to the largest
magnitude of TF's tensor (max |caffe - tf| / max |tf|); an all-zero tensor must match to ABS_FLOOR.

Two differences are measured for each TF tensor (judge.py applies them):

* its lowering's OWN error: the TF node's Caffe layers run on TF's values of its inputs, against TF's
  value of its output. This decides: a layer fails when its own error exceeds for_op(op) (OWN, or the
  entry of an approximate lowering in TOLERANCES).
* its end-to-end DRIFT: the whole Caffe net run on the reference inputs, against TF's model. Shown beside
  the own error against drift_tolerance(); it decides only where the own error cannot be measured (a
  bundle without per-layer activations: then each compared tensor, in practice the outputs, is judged on
  its drift) or where Caffe's value is NaN, Inf or of another shape.
"""
import collections

Tolerance = collections.namedtuple("Tolerance", "rel reason")

OWN = Tolerance(1e-4, "a lowering's own error on TF's values of its inputs is float32 round-off of Caffe and TF "
                      "summing convolutions and matrix products in different orders: at most 1.7e-6 for the exact "
                      "lowerings of the acceptance models (VGG16, MobileNetV2, EfficientNetB0, EfficientNetV2B0), "
                      "all of it within 1e-6 of TF's own distance from the exact result; a BatchNorm without its "
                      "epsilon measures 6.7e-4 to 7.1e-4, a kernel transposed wrongly 0.4 to 1")
DEFAULT = OWN
TOLERANCES = {
    # op name -> Tolerance, for ops whose Caffe lowering is an approximation (none yet: gelu's erf
    # approximation stays far within OWN, 2.4e-7; the report measures each use).
}
ABS_FLOOR = 1e-6

# The drift tolerance of a tensor: the larger of
#   DRIFT_FLOOR (= OWN: what a one-layer net is held to),
#   ROUNDOFF_PER_LAYER x depth: each of the `depth` lowerings above it (the longest path from an input)
#     may add its own round-off, which the next layers carry on; the exact lowerings measure at most
#     1.7e-6 each and mostly far less (medians 1e-7 to 5e-7, OWN's reason), so 1e-6 a layer bounds the sum
#     along a path in practice (errors of either sign partly cancel: ResNet50, 176 deep, drifts 1.3e-5),
#     and
#   gain x the largest drift tolerance of its inputs: the measured conditioning. A layer that squashes
#     its input's range (a sigmoid gate fed by large values, a normalisation) turns its input's drift into
#     a larger one relative to its own range; `gain` is what the layer did to the drift it received on
#     these inputs: its inherited error (end to end minus own, both Caffe) relative to its range, over
#     its inputs' largest relative drift. Unmeasured (no own run, or inputs that did not drift): 1.
# So the tolerance grows with depth and with the conditioning, and a drift above it is more than round-off
# through the model's measured numerics explains: it fails a tensor whose own error was not measured, and
# is shown (not failing) beside an own error that passes.
DRIFT_FLOOR = OWN.rel
ROUNDOFF_PER_LAYER = 1e-6
DRIFT_REASON = ("max(%g, %g x depth, gain x the inputs' drift tolerance): round-off of up to %g per layer "
                "above, amplified as the layer amplified its inputs' drift on these inputs"
                % (DRIFT_FLOOR, ROUNDOFF_PER_LAYER, ROUNDOFF_PER_LAYER))


# --verify-with (runtime_check.py): another runtime running the written files. Each blob it outputs is
# compared with Caffe's blob of that name (RUNTIME), and the net's outputs with TF's reference values
# (runtime_output_tolerance: what Caffe's own output was held to, never below RUNTIME).
RUNTIME = Tolerance(1e-4, "a runtime running the written files computes Caffe's float32 layers in its own "
                          "summation order: OpenCV 4.11 measures at most 6.6e-6 on a layer of the acceptance "
                          "models (VGG16's 3x3x512 convolutions) and far less elsewhere; a layer parameter the "
                          "runtime reads otherwise (an ignored LRN k, a misplaced epsilon) is off by 1e-3 or more")


def runtime_output_tolerance(drift_tolerance):
    """The tolerance of a runtime's output against TF: its Caffe output's drift tolerance, at least RUNTIME."""
    return max(RUNTIME.rel, drift_tolerance or 0.0)

def for_op(op):
    """The tolerance of the own error of an op's lowering."""
    return TOLERANCES.get(op, OWN)


def drift_base(depth):
    """The drift tolerance of a tensor `depth` layers deep, before conditioning."""
    return max(DRIFT_FLOOR, ROUNDOFF_PER_LAYER * depth)


def drift_tolerance(depth, gain, input_tolerances):
    """The drift tolerance of a tensor: see above. gain None: not measured (1)."""
    carried = max(input_tolerances or [0.0]) * (1.0 if gain is None else gain)
    return max(drift_base(depth), carried)


def table():
    """The tolerances as report.json records them."""
    return {"own": {"rel": OWN.rel, "reason": OWN.reason},
            "own_by_op": dict((op, {"rel": t.rel, "reason": t.reason}) for op, t in TOLERANCES.items()),
            "drift": {"floor": DRIFT_FLOOR, "per_layer": ROUNDOFF_PER_LAYER, "reason": DRIFT_REASON},
            "default": {"rel": OWN.rel, "reason": OWN.reason},
            "runtime": {"rel": RUNTIME.rel, "reason": RUNTIME.reason}}
