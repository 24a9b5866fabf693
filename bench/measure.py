"""Run one phase in its own process tree and measure it from outside: wall time, the peak resident
set of its largest process (wait4's ru_maxrss, which covers every descendant it waited for), and the
peak of the whole tree's memory (the sum of every process's proportional set size, sampled), which
also counts a forked child's and its parent's memory together without counting shared pages twice."""
import os
import subprocess
import threading
import time


class Measure(object):
    def __init__(self, name, wall, maxrss, tree_peak, returncode, stderr):
        self.name = name
        self.wall = wall                # seconds
        self.maxrss = maxrss            # bytes, largest single process
        self.tree_peak = tree_peak      # bytes, sampled peak of the tree's summed PSS
        self.returncode = returncode
        self.stderr = stderr


def _children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _pss(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_pss(root):
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += _pss(pid)
        todo.extend(_children(pid))
    return total


def run(name, cmd, cwd=None, env=None, interval=0.05, timeout=7200):
    """Run cmd (a list); return a Measure. stdout is discarded, stderr kept for the error message."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], tree_pss(proc.pid))
            done.wait(interval)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    err = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)
    reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    reader.join(timeout)
    proc.returncode = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status
    stderr = (err[0] if err else b"").decode("utf-8", "replace")
    return Measure(name, wall, usage.ru_maxrss * 1024, peak[0], proc.returncode, stderr)
