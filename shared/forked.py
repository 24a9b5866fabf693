"""Run a function in a forked child, so that native code which can kill the whole process (a glog fatal
CHECK in Caffe, the HDF5 library on a corrupt file) kills only the child and the caller can explain it.
Used by shared.bundle (reading .h5 bundles) and import_caffe.caffe_stage (everything pycaffe does)."""
import faulthandler
import os
import signal
import sys

MAX_MESSAGE = 8192


class ChildResult(object):
    """How the child ended: killed by `signal`, or exited with `exit_code`; when its function raised,
    `error_type` and `message` are the exception's class name and text."""

    def __init__(self, signal=None, exit_code=0, error_type=None, message=""):
        self.signal = signal
        self.exit_code = exit_code
        self.error_type = error_type
        self.message = message

    @property
    def ok(self):
        return self.signal is None and self.exit_code == 0


def available():
    return hasattr(os, "fork")


def run_forked(func, stderr_path=None):
    """Call func() in a forked child with stdout silenced and stderr sent to stderr_path (or silenced).
    Its return value is dropped: a child hands results back through files. Ctrl-C in the parent kills
    the child and propagates."""
    return start_forked(func, stderr_path).wait()


class Child(object):
    """A forked child started by start_forked; wait() reaps it and returns its ChildResult."""

    def __init__(self, pid, read_end):
        self.pid = pid
        self.read_end = read_end
        self.result = None

    def wait(self):
        if self.result is not None:
            return self.result
        try:
            chunks = []
            while True:
                chunk = os.read(self.read_end, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
            _, status = os.waitpid(self.pid, 0)
        except BaseException:
            self.kill()
            raise
        finally:
            self._close()
        if os.WIFSIGNALED(status):
            self.result = ChildResult(signal=os.WTERMSIG(status))
        else:
            text = b"".join(chunks).decode("utf-8", "replace")
            error_type, _, message = text.partition("\n") if text else (None, "", "")
            self.result = ChildResult(exit_code=os.WEXITSTATUS(status), error_type=error_type or None,
                                      message=message)
        return self.result

    def kill(self):
        """Kill and reap the child (when the parent gives up on it)."""
        if self.result is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self.result = ChildResult(signal=signal.SIGKILL)
        self._close()

    def _close(self):
        if self.read_end is not None:
            os.close(self.read_end)
            self.read_end = None


def start_forked(func, stderr_path=None):
    """run_forked without the wait: the child runs func() while the caller goes on; Child.wait() (or
    Child.kill()) must follow."""
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: no output, none of the parent's exit handlers, only a message and a status
        code = 1
        try:
            os.close(read_end)
            faulthandler.disable()   # a crash here is expected and explained by the parent
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            err = devnull if stderr_path is None else \
                os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(err, 2)
            try:
                func()
                code = 0
            except BaseException as exc:
                text = "%s\n%s" % (type(exc).__name__, exc)
                os.write(write_end, text.encode("utf-8", "replace")[:MAX_MESSAGE])
        finally:
            os._exit(code)
    os.close(write_end)
    return Child(pid, read_end)
