"""The Docker images and the environments the tests run in come from one recipe each, and cannot drift:

* Caffe: docker/caffe-packages.txt is the only package list; docker/build-rootfs (the root filesystem
  `make test` uses) and docker/Dockerfile.caffe both read it, for the same Debian release, and install
  nothing else.
* TF: docker/tf-requirements*.txt, read by both the Makefile (.venv/) and docker/Dockerfile.tf.
* pyproject.toml lists every Python package of the project, and the images copy every one of them;
  the one .dockerignore (read by both builders) lets through what they copy and nothing else.
* Base images: pinned to a Debian release (debian:<codename>-slim, the tags docker/make-base-images makes
  locally), never a floating tag; nothing writes bytecode into mounted folders; the TF image has the test
  and demo packages only when built with DEV=1; no bytecode of another Python reaches the Caffe image.
* Caffe from source: docker/caffe-source-packages.txt and the sdist's pinned sha256 are the recipe's inputs.
"""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCKER = os.path.join(ROOT, "docker")


def _read(*parts):
    with open(os.path.join(ROOT, *parts)) as f:
        return f.read()


def _instructions(dockerfile):
    """Dockerfile instructions with continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", _read("docker", dockerfile))
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _stages(dockerfile):
    """Each stage's instructions, from its FROM (the ARGs before the first FROM are global)."""
    stages = []
    for line in _instructions(dockerfile):
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_caffe_packages_come_from_one_list():
    packages = [p for line in _read("docker", "caffe-packages.txt").splitlines()
                if not line.startswith("#") for p in line.split()]
    assert "python3-caffe" in packages
    final = _stages("Dockerfile.caffe")[-1]
    assert final[0] == "FROM ${BASE}"
    assert "ARG BASE=debian:bullseye-slim" in _instructions("Dockerfile.caffe")
    installs = [l for l in final if "apt-get install" in l]
    assert len(installs) == 1, installs
    assert "COPY docker/caffe-packages.txt /tmp/caffe-packages.txt" in final
    # the install line takes its package names from that file and names none of its own
    tail = installs[0].split("apt-get install", 1)[1].split("&&")[0]
    assert tail.split() == ["-y", "--no-install-recommends", "$(grep", "-v", "'^#'", "/tmp/caffe-packages.txt)"], tail
    rootfs = _read("docker", "build-rootfs")
    assert "grep -v '^#' \"$HERE/caffe-packages.txt\"" in rootfs
    assert re.search(r"mmdebstrap .*--include=\"\$PACKAGES\" bullseye ", rootfs)
    assert "caffe-packages.txt" in _read("docker", "caffe-run")



def test_opencv_is_pinned_alike_in_the_image_the_root_filesystem_and_the_registry():
    from import_caffe.registry import OPENCV_VERSION
    pin = "opencv-python-headless==%s" % OPENCV_VERSION
    assert "OPENCV_PIN := %s" % pin in _read("Makefile")
    wheel, final = _stages("Dockerfile.caffe")[0], _stages("Dockerfile.caffe")[-1]
    assert "ARG OPENCV_PIN=%s" % pin in wheel
    assert any("--target /opt/tf2caffe-opencv \"$OPENCV_PIN\"" in l and "--python-version 3.9" in l for l in wheel)
    assert "COPY --from=wheel /opt/tf2caffe-opencv/ /opt/tf2caffe-opencv/" in final
    from import_caffe.runtimes.opencv import OPENCV_DIR
    assert OPENCV_DIR == "/opt/tf2caffe-opencv"


def test_mnn_is_pinned_alike_and_installed_without_its_telemetry():
    from import_caffe.registry import MNN_VERSION
    from import_caffe.runtimes.mnn import MNN_DIR, TELEMETRY
    make, pin = _read("Makefile"), "mnn==%s" % MNN_VERSION
    sha = re.search(r"^MNN_SHA256_3.9 := ([0-9a-f]{64})$", make, re.M).group(1)     # the image's Python 3.9
    assert "MNN_PIN := %s" % pin in make and "sha256sum -c" in make
    assert "rm $(MNN_DIR).partial/%s" % TELEMETRY in make
    wheel, final = _stages("Dockerfile.caffe")[0], _stages("Dockerfile.caffe")[-1]
    assert "ARG MNN_PIN=%s" % pin in wheel and "ARG MNN_SHA256=%s" % sha in wheel
    install = [l for l in wheel if "--target /opt/tf2caffe-mnn" in l]
    assert len(install) == 1 and "sha256sum -c" in install[0] and "/opt/tf2caffe-mnn/%s" % TELEMETRY in install[0]
    assert "COPY --from=wheel /opt/tf2caffe-mnn/ /opt/tf2caffe-mnn/" in final
    assert MNN_DIR == "/opt/tf2caffe-mnn"

def test_tf_requirements_come_from_one_list():
    tf = _instructions("Dockerfile.tf")
    assert ("COPY docker/tf-requirements.txt docker/tf-requirements-nodeps.txt docker/tf-requirements-dev.txt /tmp/"
            in tf)
    run = [l for l in tf if "tf-requirements" in l and l.startswith("RUN")]
    assert run and "-r /tmp/tf-requirements.txt" in run[0] and "--no-deps -r /tmp/tf-requirements-nodeps.txt" in run[0]
    # the test and demo packages only in the -dev image
    assert 'if [ -n "$DEV" ]; then pip install --no-cache-dir --disable-pip-version-check -r /tmp/tf-requirements-dev.txt; fi' in run[0]
    makefile = _read("Makefile")
    assert "pip install -q --disable-pip-version-check -r $(ROOT)/docker/tf-requirements.txt" in makefile
    assert "--no-deps -r $(ROOT)/docker/tf-requirements-nodeps.txt" in makefile
    assert "pip install -q --disable-pip-version-check -r $(ROOT)/docker/tf-requirements-dev.txt" in makefile
    runtime = _read("docker", "tf-requirements.txt")
    for dev in ("pytest", "scikit-learn", "hypothesis"):
        assert dev not in runtime and dev in _read("docker", "tf-requirements-dev.txt")


def _project_packages():
    found = []
    for top in ("tf2caffe", "shared", "export_tf", "import_caffe"):
        for folder, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            if "__init__.py" in files:
                found.append(os.path.relpath(folder, ROOT).replace(os.sep, "."))
    return sorted(found)


def test_pyproject_finds_every_package_and_the_images_copy_them():
    line = re.search(r"^include = \[(.*)\]$", _read("pyproject.toml"), re.M).group(1)
    patterns = re.findall(r'"([^"]+)"', line)
    tops = sorted(p for p in patterns if "*" not in p)
    assert sorted(patterns) == sorted(tops + [t + ".*" for t in tops])      # each folder with its subpackages
    assert tops == sorted(set(p.split(".")[0] for p in _project_packages()))
    assert sorted(d for d in os.listdir(ROOT) if os.path.isfile(os.path.join(ROOT, d, "__init__.py"))) == tops
    assert re.search(r'^tf2caffe = "tf2caffe.cli:main"$', _read("pyproject.toml"), re.M)
    for dockerfile in ("Dockerfile.caffe", "Dockerfile.tf"):
        copies = " ".join(l for l in _instructions(dockerfile) if l.startswith("COPY "))
        ignore = [l for l in _read(".dockerignore").splitlines() if l and not l.startswith("#")]
        for top in tops + ["pyproject.toml", "README.md"]:
            assert re.search(r"\b%s\b" % re.escape(top), copies), (dockerfile, top)
            assert "!" + top in ignore, (dockerfile, top)
        for path in re.findall(r"docker/[\w.-]+", copies):
            assert "!" + path in ignore, (dockerfile, path)


def test_one_dockerignore_for_both_builders():
    """The legacy builder reads only the context's .dockerignore; BuildKit would prefer a
    <Dockerfile>.dockerignore, so none may exist (the two would drift)."""
    ignore = [l for l in _read(".dockerignore").splitlines() if l and not l.startswith("#")]
    assert ignore[0] == "*"
    assert not [f for f in os.listdir(DOCKER) if f.endswith(".dockerignore")]
    copied = set()
    for dockerfile in ("Dockerfile.caffe", "Dockerfile.tf"):
        for line in _instructions(dockerfile):
            if line.startswith("COPY ") and "--from=" not in line:
                copied.update(line.split()[1:-1])
    assert sorted(l[1:] for l in ignore if l.startswith("!")) == sorted(copied)


def _base_args(dockerfile):
    return dict(re.findall(r"^ARG (\w*BASE)=(\S+)$", "\n".join(_instructions(dockerfile)), re.M))


def test_base_images_are_pinned_debian_releases():
    made = _read("docker", "make-base-images")
    for dockerfile in ("Dockerfile.caffe", "Dockerfile.tf"):
        bases = _base_args(dockerfile)
        assert bases, dockerfile
        for value in bases.values():
            # a Debian release by its codename: the tags docker/make-base-images makes from the same lines
            assert re.match(r"^debian:(bullseye|bookworm|trixie)-slim$", value), (dockerfile, value)
        for stage in _stages(dockerfile):
            ref = stage[0].split()[1]
            assert ref in ["${%s}" % k for k in bases], (dockerfile, stage[0])
    assert _base_args("Dockerfile.caffe")["BASE"] == "debian:bullseye-slim"     # python3-caffe's release
    assert _base_args("Dockerfile.tf")["BASE"] == "debian:bookworm-slim"        # Debian's Python 3.11
    assert "Dockerfile.*" in made and "docker import" in made and "mmdebstrap" in made


def test_images_write_no_bytecode_and_carry_none_of_another_python():
    for dockerfile in ("Dockerfile.caffe", "Dockerfile.tf"):
        final = _stages(dockerfile)[-1]
        assert any(l.startswith("ENV ") and "PYTHONDONTWRITEBYTECODE=1" in l for l in final), dockerfile
    wheel, final = _stages("Dockerfile.caffe")
    assert any("--no-compile" in l and "--target /opt/tf2caffe" in l for l in wheel)
    assert any("python3 -m compileall" in l for l in final)


def test_readme_docker_runs_as_the_user():
    readme = _read("README.md")
    runs = [l for l in readme.splitlines() if l.lstrip().startswith("docker run ")]
    assert len(runs) >= 4
    for line in runs:
        assert '--user "$(id -u):$(id -g)"' in line, line
    for dockerfile in ("Dockerfile.caffe", "Dockerfile.tf"):
        for line in _read("docker", dockerfile).splitlines():
            if line.startswith("#   docker run "):
                assert '--user "$(id -u):$(id -g)"' in line, line


def test_caffe_source_recipe():
    packages = _read("docker", "caffe-source-packages.txt").splitlines()
    assert "# build" in packages
    runtime = packages[:packages.index("# build")]
    for needed in ("python3", "python3-numpy", "python3-h5py", "python3-protobuf", "python3-pytest", "make"):
        assert needed in runtime
    sha, name = _read("docker", "caffe-source.sha256").split()
    assert re.match(r"^[0-9a-f]{64}$", sha) and name == "brocolli-caffe-9.0.2.tar.gz"
    build = _read("docker", "build-caffe-source")
    assert "sha256sum -c" in build and "caffe-source-packages.txt" in build and "SUITE=trixie" in build
    inside = _read("docker", "caffe-source-build")
    assert "sed -n '/^# build/,$p'" in inside and "apt-get autoremove" in inside
    makefile = _read("Makefile")
    assert "BUILD_ROOTFS := $(ROOT)/docker/build-caffe-source" in makefile
    assert "export TF2CAFFE_ROOTFS := $(ROOTFS)" in makefile
