"""verify.compare: the parity metrics of one tensor, against a float64 computation done here."""
import numpy as np
import pytest

from import_caffe import tolerances, verify

TOL = tolerances.DEFAULT


def exact_max_abs(caffe, tf):
    return float(np.abs(caffe.astype(np.float64) - tf.astype(np.float64)).max())


@pytest.mark.parametrize("shape", [(2, 1000), (2, 56, 56, 64), (1, 300001), (700000, 3), (4,), (2, 7, 7, 1)])
def test_max_abs_matches_float64(shape):
    rng = np.random.RandomState(sum(shape))
    tf = rng.standard_normal(shape).astype(np.float32)
    caffe = (tf + 1e-5 * rng.standard_normal(shape)).astype(np.float32)
    caffe.reshape(-1)[caffe.size // 2] += np.float32(0.25)       # one element far off, in the middle
    row = verify.compare(tf, caffe, TOL)
    assert row["max_abs"] == pytest.approx(exact_max_abs(caffe, tf), rel=1e-6)
    assert row["status"] == verify.INACCURATE


def test_transposed_view_is_compared_element_by_element():
    rng = np.random.RandomState(1)
    nchw = rng.standard_normal((2, 16, 9, 11)).astype(np.float32)
    tf = np.ascontiguousarray(nchw.transpose(0, 2, 3, 1))
    caffe = nchw.copy()
    caffe[1, 3, 4, 5] += np.float32(1e-2)
    row = verify.compare(tf, caffe.transpose(0, 2, 3, 1), TOL)
    assert row["max_abs"] == pytest.approx(1e-2, rel=1e-3)
    assert verify.compare(tf, nchw.transpose(0, 2, 3, 1), TOL)["max_abs"] == 0.0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_caffe_values_fail(bad):
    tf = np.ones((3, 400000), np.float32)
    caffe = tf.copy()
    caffe[2, 399999] = bad
    row = verify.compare(tf, caffe, TOL)
    assert row["status"] == verify.FAILED and "NaN or Inf" in row["error"]


def test_float32_overflow_of_the_difference_is_measured_exactly():
    tf = np.array([3e38, -3e38], np.float32)
    row = verify.compare(tf, -tf, TOL)
    assert row["status"] == verify.INACCURATE
    assert row["max_abs"] == pytest.approx(6e38, rel=1e-6)


def test_equal_tensors_are_ok_and_shape_mismatch_fails():
    tf = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert verify.compare(tf, tf.copy(), TOL)["status"] == verify.OK
    assert verify.compare(tf, tf.reshape(4, 3), TOL)["status"] == verify.FAILED
    assert verify.compare(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32), TOL)["max_abs"] == 0.0


def test_argmax_disagreement_is_inaccurate_even_within_tolerance():
    """A pick TF holds clearly smaller than its own (by more than the tolerance) is a disagreement, however
    small the values' error; entries TF itself ties within the tolerance may flip (see below)."""
    tf = np.array([[1.0, 1.0 + 1e-2, 0.0]], np.float32)
    caffe = np.array([[1.0 + 1.1e-2, 1.0 + 1e-2, 0.0]], np.float32)
    row = verify.compare(tf, caffe, TOL)
    assert row["argmax_agree"] == 0 and row["status"] == verify.INACCURATE


def test_argmax_flips_between_entries_tf_ties_are_not_disagreements():
    tol = tolerances.OWN
    tf = np.array([[5.0, 5.0, 1.0], [0.0, 3.0, 2.0]], np.float32)
    caffe = np.array([[5.0, 5.0 + 1e-6, 1.0], [0.0, 3.0, 2.0]], np.float32)
    row = verify.compare(tf, caffe, tol)
    assert row["argmax_agree"] == 2 and row["status"] == verify.OK
    wrong = np.array([[5.0, 4.0, 1.0], [0.0, 3.0, 2.0]], np.float32)
    flipped = np.array([[4.0, 5.0, 1.0], [0.0, 3.0, 2.0]], np.float32)
    assert verify.compare(wrong, flipped, tol)["argmax_agree"] == 1
