"""The Docker images and the environments the tests run in come from one recipe each, and cannot drift:

* Caffe: docker/caffe-packages.txt is the only package list; docker/build-rootfs (the root filesystem
  `make test` uses) and docker/Dockerfile.caffe both read it, for the same Debian release, and install
  nothing else.
* TF: docker/tf-requirements*.txt, read by both the Makefile (.venv/) and docker/Dockerfile.tf.
* pyproject.toml lists every Python package of the project, and the images copy every one of them.
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
    stages = []
    for line in _instructions(dockerfile):
        if line.upper().startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def test_caffe_packages_come_from_one_list():
    packages = [p for line in _read("docker", "caffe-packages.txt").splitlines()
                if not line.startswith("#") for p in line.split()]
    assert "python3-caffe" in packages
    final = _stages("Dockerfile.caffe")[-1]
    assert final[0] == "FROM debian:bullseye"
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


def test_tf_requirements_come_from_one_list():
    tf = _instructions("Dockerfile.tf")
    assert "COPY docker/tf-requirements.txt docker/tf-requirements-nodeps.txt /tmp/" in tf
    run = [l for l in tf if "tf-requirements" in l and l.startswith("RUN")]
    assert run and "-r /tmp/tf-requirements.txt" in run[0] and "--no-deps -r /tmp/tf-requirements-nodeps.txt" in run[0]
    makefile = _read("Makefile")
    assert "pip install -q --disable-pip-version-check -r $(ROOT)/docker/tf-requirements.txt" in makefile
    assert "--no-deps -r $(ROOT)/docker/tf-requirements-nodeps.txt" in makefile


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
        ignore = _read("docker", dockerfile + ".dockerignore").split()
        for top in tops + ["pyproject.toml", "README.md"]:
            assert re.search(r"\b%s\b" % re.escape(top), copies), (dockerfile, top)
            assert "!" + top in ignore, (dockerfile, top)
        for path in re.findall(r"docker/[\w.-]+", copies):
            assert "!" + path in ignore, (dockerfile, path)
