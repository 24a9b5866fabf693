"""Progress of long phases (reading, planning, writing, loading, verifying), shared by both sides.

On a terminal (stderr is a tty) a phase shows one self-updating line, "import_caffe: writing weights
 43% (250/575 MB)", finished by "... done in 2.1s"; when stderr is not a terminal nothing is shown.
With TF2CAFFE_TIMINGS=1 every phase also prints "timing: <phase> <seconds>s" on stderr when it ends
(the benchmark reads these). The terminal is written through its own duplicate of stderr's file
descriptor, taken on first use, so a forked child whose stderr goes to a log file still shows its
progress. Python 3.8 compatible, standard library only."""
import os
import sys
import time

_state = {"fd": None, "checked": False, "prefix": "", "timing_fd": None}
_MIN_INTERVAL = 0.2


def _fd():
    if not _state["checked"]:
        _state["checked"] = True
        try:
            if sys.stderr is not None and sys.stderr.isatty():
                _state["fd"] = os.dup(sys.stderr.fileno())
        except (OSError, ValueError, AttributeError):
            _state["fd"] = None
    return _state["fd"]


def configure(prefix, quiet=False):
    """Name shown before each phase; quiet=True hides the progress lines (timings still print).
    Called by the command-line entry points before any work (and before any fork)."""
    _state["prefix"] = prefix
    if quiet:
        _state["checked"] = True
        _state["fd"] = None
    else:
        _fd()
    if _timings() and _state["timing_fd"] is None:
        try:
            _state["timing_fd"] = os.dup(sys.stderr.fileno())
        except (OSError, ValueError, AttributeError):
            _state["timing_fd"] = None


def _timings():
    return bool(os.environ.get("TF2CAFFE_TIMINGS"))


def _write(text):
    fd = _fd()
    if fd is None:
        return
    try:
        os.write(fd, text.encode("utf-8", "replace"))
    except OSError:
        pass


def _size(n, unit):
    if unit == "B":
        return "%.0f MB" % (n / 1e6) if n < 10e9 else "%.1f GB" % (n / 1e9)
    return "%d%s" % (n, unit)


class Phase(object):
    """with Phase("writing weights", total=nbytes, unit="B") as p: ... p.advance(n) ..."""

    def __init__(self, label, total=None, unit=""):
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self.start = None
        self._shown = 0.0

    def __enter__(self):
        self.start = time.perf_counter()
        self._shown = self.start
        if self.total is None and _fd() is not None:    # nothing to count: say what runs, from the start
            _write("\r\x1b[K%s%s ..." % (_state["prefix"], self.label))
            self._shown = self.start + 1e-9              # so that its end finishes this line
        return self

    def advance(self, n=1):
        self.done += n
        now = time.perf_counter()
        if now - self._shown >= _MIN_INTERVAL and _fd() is not None:
            self._shown = now
            _write("\r\x1b[K%s%s %s" % (_state["prefix"], self.label, self._amount()))

    def _amount(self):
        if self.total:
            return "%3d%% (%s/%s)" % (100.0 * self.done / self.total, _size(self.done, self.unit),
                                      _size(self.total, self.unit))
        return "(%s)" % _size(self.done, self.unit) if self.done else "..."

    def __exit__(self, exc_type, exc, tb):
        elapsed = time.perf_counter() - self.start
        if self._shown > self.start:       # a progress line is showing: finish or clear it
            if exc_type is None:
                _write("\r\x1b[K%s%s done in %.1fs\n" % (_state["prefix"], self.label, elapsed))
            else:
                _write("\r\x1b[K")
        if exc_type is None and _timings():
            line = "timing: %s %.2fs\n" % (self.label, elapsed)
            if _state["timing_fd"] is not None:
                try:
                    os.write(_state["timing_fd"], line.encode("utf-8", "replace"))
                except OSError:
                    pass
            else:
                sys.stderr.write(line)
                sys.stderr.flush()
        return False


def phase(label, total=None, unit=""):
    return Phase(label, total, unit)
