"""The error hierarchy both sides raise. Each carries the process exit status the CLIs use."""


class Tf2CaffeError(Exception):
    """Base class: a one-line, user-facing message. Never raised bare."""

    exit_code = 1


class InternalError(Tf2CaffeError):
    """A bug in the converter itself (a handler that failed on a node the op spec accepted, a node the
    exporter built against its spec): the message names where, so it can be reported."""

    exit_code = 1


class UsageError(Tf2CaffeError):
    """Bad command-line arguments or a missing input file."""

    exit_code = 2


class BundleError(Tf2CaffeError):
    """A bundle is malformed, corrupt or inconsistent (bundles are untrusted input)."""

    exit_code = 5


class ModelLoadError(Tf2CaffeError):
    """The TensorFlow/Keras model could not be read."""

    exit_code = 6


class UnsupportedError(Tf2CaffeError):
    """The model uses layers (or layer settings) the converter cannot express exactly."""

    exit_code = 4


class ConversionError(Tf2CaffeError):
    """Converting a supported model failed (for example Caffe rejected the generated net)."""

    exit_code = 7


class ParityError(Tf2CaffeError):
    """The converted Caffe net does not reproduce TensorFlow's outputs within tolerance."""

    exit_code = 3

    def __init__(self, message, report=None):
        super(ParityError, self).__init__(message)
        self.report = report


EXIT_CODES = {
    "ok": 0,
    "error": Tf2CaffeError.exit_code,
    "usage": UsageError.exit_code,
    "parity": ParityError.exit_code,
    "unsupported": UnsupportedError.exit_code,
    "bundle": BundleError.exit_code,
    "model": ModelLoadError.exit_code,
    "conversion": ConversionError.exit_code,
}
