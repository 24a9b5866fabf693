"""Hostile bundles (issue 18) through the real `make import` and `make inspect`: every variant hostile.py
writes (.npz and .h5, checksums recomputed) is run through both targets, each command in its own session,
timed and measured, and must end as the README promises for a bundle from anyone:

* the tool's status (make's own is 2 for any failure; the recipe names the tool's on stderr) is one the
  variant allows: 5 (malformed bundle) unless the recipe says otherwise, never 1 (internal error), never
  a signal, and 7 (Caffe reached) only for embedding ids out of range, which only Caffe sees;
* no "Traceback", no "Check failed" (a Caffe CHECK reaching the user), anywhere in the output;
* the tool's message (stderr without make's own lines) is one line under 300 characters without control
  characters; stdout has none either;
* no model files (.prototxt, .caffemodel) in OUT;
* nothing written outside the bundle's folder and OUT: no change anywhere in the hostile tree (the
  other variants' folders, the folder of the files linked from outside), nothing left in the command's
  TMPDIR; no new entry named as a conversion of these models would name it (hostile_*: other engineers
  and programs create other files there meanwhile) in the project folder, the test session's tmp
  folder, /tmp, $HOME or the Caffe root filesystem's writable places; nothing ran (no PWNED file
  anywhere); no planted file was read (its access time, set to 0, stays 0);
* peak memory (the largest process of the command's tree: the launcher's RUSAGE_CHILDREN max RSS, and
  samples of /proc while it runs) under 1 GB, and under 30 s. A command is killed past 31 s or 1.5 GB.

`inspect` only summarises a bundle, but it reads and validates all of it as the import does, so it must
refuse every malformed bundle too (status 5): a bad name, link, container, number, header, shape or shown
text, and work out of proportion to the arrays carried. Only the recipes marked inspect_may_pass may be
summarised (status 0): the schema-valid bundles of class `valid`, embedding ids out of range (values only
Caffe would trip on) and a batch of 150,000 whose activations stay within the budget (refused by import
for its missing reference data); their summary must then be printable and short (20 lines, 4000
characters).

Names (class `name`) are run as a user would in a folder of received files: make -f ROOT/Makefile from the
bundle's folder, with the bare file name (a leading dash is then the argument's first character). Every
other variant runs from the project folder with absolute paths. One line per command is appended to
`results.jsonl` in the hostile tree (status, message, peak memory, time), for the record.
"""
import json
import os
import resource
import signal
import subprocess
import sys
import time

import pytest

import hostile
from conftest import ROOT

MAKEFILE = os.path.join(ROOT, "Makefile")
LIMIT_SECONDS = 30
LIMIT_KB = 1000 * 1000                  # 1 GB
KILL_SECONDS = 31
KILL_KB, KILL_TOTAL_KB = 1500 * 1000, 3000 * 1000
MESSAGE_LIMIT = 300
MODEL_FILES = (".prototxt", ".caffemodel", ".caffemodel.h5")
SKIP = {".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis"}
PAGE_KB = resource.getpagesize() // 1024


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("hostile"))
    made = hostile.generate(root)
    for name in ("logs", "tmp"):
        os.makedirs(os.path.join(root, name))
    return root, made


# ----------------------------------------------------------------------------------------- running

class Run(object):
    def __init__(self, argv, cwd, make_rc, stdout, stderr, peak_kb, seconds, killed):
        self.argv, self.cwd, self.make_rc = argv, cwd, make_rc
        self.stdout, self.stderr, self.peak_kb, self.seconds, self.killed = stdout, stderr, peak_kb, seconds, killed
        self.status = tool_status(make_rc, stderr)


def tool_status(make_rc, stderr):
    """The tool's status as the make recipe names it, 0 when make succeeded, None if not said."""
    if make_rc == 0:
        return 0
    for line in stderr.split("\n"):
        if "tf2caffe exited with status " in line:
            return int(line.split("tf2caffe exited with status ")[1].split()[0])
    return None


def session_rss_kb(sid):
    """(largest RSS, total RSS) of the processes of session `sid`, in kB."""
    largest = total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid, "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid:
            rss = int(fields[21]) * PAGE_KB
            largest, total = max(largest, rss), total + rss
    return largest, total


# Runs its command and writes the command tree's max RSS (RUSAGE_CHILDREN: the largest process, every
# process reaped by its parent included) to the file argv[1]. A small launcher of its own, so that no
# process of the tree is forked from the test process (a fork shares its resident memory until exec, and
# the kernel's max RSS keeps that).
LAUNCHER = """import resource, subprocess, sys
status = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write("%d %d" % (status, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(status & 255)
"""


def run_command(argv, cwd, env, logs):
    """argv in its own session through LAUNCHER, stdout/stderr to files; killed past KILL_SECONDS or
    KILL_KB. Peak memory: the launcher's RUSAGE_CHILDREN max RSS and the largest RSS sampled from /proc
    (every process of the session) while it ran."""
    usage_file = logs + ".rusage"
    with open(logs + ".out", "wb") as out, open(logs + ".err", "wb") as err:
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", LAUNCHER, usage_file] + argv, cwd=cwd, env=env,
                                stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
        sampled, killed = 0, None
        while proc.poll() is None:
            largest, total = session_rss_kb(proc.pid)
            sampled = max(sampled, largest)
            if time.monotonic() - start > KILL_SECONDS:
                killed = "killed after %d s" % KILL_SECONDS
            elif largest > KILL_KB or total > KILL_TOTAL_KB:
                killed = "killed at %d MB (one process) / %d MB (all)" % (largest // 1000, total // 1000)
            if killed:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                break
            time.sleep(0.05)
        seconds = time.monotonic() - start
    make_rc, maxrss = proc.returncode, 0
    if os.path.exists(usage_file):
        with open(usage_file) as f:
            make_rc, maxrss = [int(n) for n in f.read().split()]
    with open(logs + ".out", "rb") as f:
        stdout = f.read().decode("utf-8", "backslashreplace")
    with open(logs + ".err", "rb") as f:
        stderr = f.read().decode("utf-8", "backslashreplace")
    return Run(argv, cwd, make_rc, stdout, stderr, max(maxrss, sampled), seconds, killed)


def make_argv(command, variant):
    """(argv, cwd, OUT as given, OUT's path)."""
    name = os.path.basename(variant.path)
    if variant.recipe.relative:
        argv, cwd, bundle, out = ["make", "-s", "-f", MAKEFILE, command], variant.folder, name, "out-import"
    else:
        argv, cwd, bundle, out = ["make", "-s", command], ROOT, variant.path, os.path.join(variant.folder, "out-import")
    argv.append("BUNDLE=" + bundle)
    if command == "import":
        argv += ["OUT=" + out, "IMPORT_ARGS=-q"]
    return argv, cwd, os.path.join(variant.folder, "out-import")


# ----------------------------------------------------------------------------------------- watching

def tree(top, skip=()):
    """{path: (size, mtime) or None for a folder} under top, not descending into SKIP, the environments'
    folders (.caffe-root and its partial builds), mount points or `skip` paths."""
    found = {}
    for folder, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d not in SKIP and not d.startswith(".caffe-root")
                   and os.path.join(folder, d) not in skip and not os.path.ismount(os.path.join(folder, d))]
        for d in dirs:
            found[os.path.join(folder, d)] = None
        for f in files:
            path = os.path.join(folder, f)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            found[path] = (st.st_size, st.st_mtime_ns)
    return found


def entries(folder):
    try:
        return set(os.path.join(folder, n) for n in os.listdir(folder))
    except OSError:
        return set()


class Watch(object):
    """What must not change while a command runs. `changed` in the hostile tree (except the variant's own
    folder, our logs and the command's TMPDIR); `new` entries elsewhere."""

    def __init__(self, hostile_root, variant, tmpdir):
        self.hostile_root = hostile_root
        self.skip = (variant.folder, os.path.join(hostile_root, "logs"), tmpdir)
        rootfs = os.path.join(ROOT, ".caffe-root")
        self.shallow = ["/tmp", os.path.expanduser("~"), os.path.dirname(hostile_root), rootfs,
                        os.path.join(rootfs, "root"), os.path.join(rootfs, "tmp"), os.path.join(rootfs, "var", "tmp")]
        self.planted = variant.planted
        for path in self.planted:
            os.utime(path, ns=(0, os.stat(path).st_mtime_ns))
        self.before = self.state()

    def state(self):
        project = set(tree(ROOT))
        return tree(self.hostile_root, self.skip), project, set().union(*[entries(f) for f in self.shallow])

    def problems(self):
        hostile_tree, project, shallow = self.state()
        old_tree, old_project, old_shallow = self.before
        out = ["wrote %s" % p for p in sorted(set(hostile_tree) | set(old_tree))
               if hostile_tree.get(p, "gone") != old_tree.get(p, "gone")]
        out += ["created %s" % p for p in sorted((project - old_project) | (shallow - old_shallow)) if ours(p)]
        out += ["read %s" % p for p in self.planted if os.stat(p).st_atime_ns != 0]
        return out


def ours(path):
    """Whether a new entry of the project folder, /tmp or $HOME could be the tool's: other engineers and
    programs create files there meanwhile (sources, temporary files, even conversions of their own), so
    only what a conversion of these bundles writes (files named after the models, hostile_*) or a PWNED
    counts."""
    name = os.path.basename(path)
    return name.startswith(hostile.NAME_PREFIX) or hostile.MARK in name


def pwned(variant, cwd):
    places = [variant.folder, ROOT, cwd, "/tmp", os.path.expanduser("~")]
    found = [os.path.join(d, f) for d, _, files in os.walk(variant.folder) for f in files if f == hostile.MARK]
    return found + [os.path.join(p, hostile.MARK) for p in places[1:] if os.path.exists(os.path.join(p, hostile.MARK))]


# ----------------------------------------------------------------------------------------- checking

def tool_lines(command, stderr):
    """stderr's lines without make's own (its status line and its '*** ... Error N')."""
    return [line for line in stderr.split("\n")
            if line.strip() and not line.startswith("make %s: tf2caffe exited with status " % command)
            and not line.startswith("make: *** [")]


def unprintable(text):
    return [line for line in text.split("\n") if not line.isprintable()]


def problems_of(run, command, variant):
    recipe = variant.recipe
    out = []
    if run.killed:
        out.append(run.killed)
    allowed = set(recipe.statuses) if command == "import" else {5}
    if command == "inspect" and recipe.inspect_may_pass:
        allowed.add(0)
    if run.make_rc != 0 and (run.make_rc != 2 or run.status is None):
        out.append("make exited %d without naming the tool's status" % run.make_rc)
    elif run.status not in allowed:
        what = ("a signal" if run.status >= 128 else "an internal error" if run.status == 1 else
                "converted" if run.status == 0 else "not one of %s" % sorted(allowed))
        out.append("status %d (%s)" % (run.status, what))
    for needle in ("Traceback", "Check failed"):
        if needle in run.stdout or needle in run.stderr:
            out.append("%r in the output" % needle)
    lines = tool_lines(command, run.stderr)
    if run.status:
        if len(lines) != 1:
            out.append("%d lines of message" % len(lines))
        for line in lines:
            if len(line) >= MESSAGE_LIMIT:
                out.append("a message line of %d characters" % len(line))
            if not line.isprintable():
                out.append("control characters in the message")
    elif lines:
        out.append("stderr on success: %d lines" % len(lines))
    if unprintable(run.stdout):
        out.append("control characters on stdout")
    if run.status == 0 and (len(run.stdout) > 4000 or len(run.stdout.split("\n")) > 20):
        out.append("a summary of %d characters, %d lines" % (len(run.stdout), len(run.stdout.split("\n"))))
    if run.peak_kb >= LIMIT_KB:
        out.append("peak memory %d MB" % (run.peak_kb // 1000))
    if run.seconds >= LIMIT_SECONDS:
        out.append("%.1f s" % run.seconds)
    return out


def model_files(out):
    return [os.path.join(d, f) for d, _, files in os.walk(out) for f in files if f.endswith(MODEL_FILES)]


def describe(run, command, variant, problems):
    lines = tool_lines(command, run.stderr)
    return ("%s: %s\n  status %s (make %d), peak %d MB, %.1f s, file %d bytes\n  message: %s\n  stderr: %r\n"
            "  stdout: %r" % (variant.id, "; ".join(problems), run.status, run.make_rc, run.peak_kb // 1000,
                              run.seconds, variant.size, (lines[0][:400] if lines else None),
                              run.stderr[-1500:], run.stdout[-600:]))


def run_make(root, command, variant):
    """(Run, OUT's path, the command's TMPDIR) of `make command` on the variant."""
    argv, cwd, out = make_argv(command, variant)
    tmpdir = os.path.join(root, "tmp", "%s-%s" % (variant.id, command))
    os.makedirs(tmpdir)
    env = dict((k, v) for k, v in os.environ.items()
               if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "TF2CAFFE_DEBUG", "PYTHONPATH"))
    env.update(TMPDIR=tmpdir, LC_ALL="C.UTF-8")
    return run_command(argv, cwd, env, os.path.join(root, "logs", "%s-%s" % (variant.id, command))), out, tmpdir


@pytest.mark.parametrize("vid", hostile.control_ids())
def test_the_unchanged_models_convert(variants, vid):
    """The writer's bundles of the unchanged models convert: the variants are refused for what they change."""
    root, made = variants
    run, out, _ = run_make(root, "import", made[vid])
    assert run.status == 0 and run.peak_kb < LIMIT_KB and run.seconds < LIMIT_SECONDS, run.stderr
    assert "Traceback" not in run.stderr and "parity: OK" in run.stdout, run.stdout
    assert sorted(os.path.splitext(p)[1] for p in model_files(out)) == [".caffemodel", ".prototxt"]


@pytest.mark.parametrize("command", ["import", "inspect"])
@pytest.mark.parametrize("vid", hostile.variant_ids())
def test_hostile_bundle(variants, vid, command):
    root, made = variants
    variant = made[vid]
    watch = Watch(root, variant, os.path.join(root, "tmp", "%s-%s" % (vid, command)))
    run, out, tmpdir = run_make(root, command, variant)
    problems = problems_of(run, command, variant)
    problems += watch.problems()
    problems += ["left %s in TMPDIR" % n for n in sorted(os.listdir(tmpdir))]
    problems += ["ran: %s exists" % p for p in pwned(variant, run.cwd)]
    if command == "import":
        problems += ["model file %s" % p for p in model_files(out)]
    lines = tool_lines(command, run.stderr)
    with open(os.path.join(root, "results.jsonl"), "a") as f:
        f.write(json.dumps({"id": vid, "command": command, "status": run.status, "make": run.make_rc,
                            "peak_mb": run.peak_kb // 1000, "seconds": round(run.seconds, 2), "bytes": variant.size,
                            "message": lines[0][:300] if lines else None, "problems": problems}) + "\n")
    assert not problems, describe(run, command, variant, problems)
