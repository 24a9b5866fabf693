"""shared.progress: a long phase shows a self-updating line on a terminal and nothing otherwise; with
TF2CAFFE_TIMINGS=1 each phase reports its duration, also from a forked child whose stderr is a file."""
import os
import sys
import time

import pytest

from shared import progress


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(progress, "_state", {"fd": None, "checked": False, "prefix": "", "timing_fd": None})
    monkeypatch.setattr(progress, "_MIN_INTERVAL", 0.0)
    monkeypatch.delenv("TF2CAFFE_TIMINGS", raising=False)
    return monkeypatch


def slow_phase():
    with progress.phase("writing weights", total=4 << 20, unit="B") as p:
        for _ in range(4):
            time.sleep(0.01)
            p.advance(1 << 20)


def read_all(fd):
    os.set_blocking(fd, False)
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except (BlockingIOError, OSError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


def test_on_a_terminal_a_phase_shows_its_progress_and_its_end(fresh):
    master, slave = os.openpty()
    stream = os.fdopen(slave, "w")
    fresh.setattr(sys, "stderr", stream)
    progress.configure("tool: ")
    slow_phase()
    text = read_all(master)
    stream.close()
    os.close(master)
    assert "\r\x1b[Ktool: writing weights  25% (1 MB/4 MB)" in text, repr(text)
    assert "100% (4 MB/4 MB)" in text, repr(text)
    assert "done in" in text and text.endswith("\n"), repr(text)


def test_a_phase_without_a_count_shows_its_name_from_its_start(fresh):
    master, slave = os.openpty()
    stream = os.fdopen(slave, "w")
    fresh.setattr(sys, "stderr", stream)
    progress.configure("tool: ")
    with progress.phase("loading the weights in Caffe"):
        assert "tool: loading the weights in Caffe ..." in read_all(master)
    text = read_all(master)
    stream.close()
    os.close(master)
    assert "loading the weights in Caffe done in" in text and text.endswith("\n"), repr(text)


def test_not_on_a_terminal_nothing_is_shown(fresh, tmp_path):
    path = str(tmp_path / "err.txt")
    with open(path, "w") as stream:
        fresh.setattr(sys, "stderr", stream)
        progress.configure("tool: ")
        slow_phase()
    assert open(path).read() == ""


def test_quiet_hides_progress_even_on_a_terminal(fresh):
    master, slave = os.openpty()
    stream = os.fdopen(slave, "w")
    fresh.setattr(sys, "stderr", stream)
    progress.configure("tool: ", quiet=True)
    slow_phase()
    text = read_all(master)
    stream.close()
    os.close(master)
    assert text == ""


def test_timings_reach_the_parent_stderr_from_a_forked_child(fresh, tmp_path):
    from shared import forked
    path = str(tmp_path / "err.txt")
    fresh.setenv("TF2CAFFE_TIMINGS", "1")
    with open(path, "w") as stream:
        fresh.setattr(sys, "stderr", stream)
        progress.configure("tool: ")
        result = forked.run_forked(slow_phase, stderr_path=str(tmp_path / "child-log.txt"))
        assert result.ok
    lines = open(path).read().splitlines()
    assert len(lines) == 1 and lines[0].startswith("timing: writing weights ") and lines[0].endswith("s"), lines
