"""The hidden staging folder an import writes into before its files get their final names.

Its name carries this machine's name and the process id, `.tf2caffe-<host>-<pid>-<random>`, so a later
import into the same folder can tell a folder left behind by a killed import (same machine, process
gone) from one in use, and removes the former. Folders of other machines are left alone.
"""
import os
import re
import shutil
import socket
import tempfile

PREFIX = ".tf2caffe-"


def _host():
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname() or "host")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(out_dir):
    """Remove the staging folders in out_dir of this machine's imports that no longer run."""
    pattern = re.compile(re.escape(PREFIX + _host()) + r"-(\d+)-")
    for name in os.listdir(out_dir):
        match = pattern.match(name)
        if not match:
            continue
        pid = int(match.group(1))
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(os.path.join(out_dir, name), ignore_errors=True)


def make(out_dir):
    """A new staging folder in out_dir (after sweeping the leftovers of killed imports)."""
    sweep(out_dir)
    return tempfile.mkdtemp(prefix="%s%s-%d-" % (PREFIX, _host(), os.getpid()), dir=out_dir)
