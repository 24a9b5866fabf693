# The TF side: pinned tensorflow-cpu (Keras 3) plus tf-keras for legacy Keras 2 files, from the same
# docker/tf-requirements*.txt the Makefile installs into .venv/, plus the `tf2caffe` command, on Debian
# bookworm's own Python 3.11 (a virtualenv in /opt/tf2caffe). `--build-arg DEV=1` adds the test and demo
# packages (docker/tf-requirements-dev.txt): the tf2caffe-tf-dev image.
#   docker build -f docker/Dockerfile.tf -t tf2caffe-tf .
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/data" -w /data tf2caffe-tf tf2caffe export model.keras -o model.npz
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/work" tf2caffe-tf make export MODEL=model.keras BUNDLE=model.npz
# The base image is pinned to a Debian release; docker/make-base-images makes it locally where no
# registry is reachable. BASE may name a digest (debian:bookworm-slim@sha256:...).
ARG BASE=debian:bookworm-slim
FROM ${BASE}
ARG DEV=
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv make \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/tf2caffe
ENV PATH=/opt/tf2caffe/bin:$PATH
COPY docker/tf-requirements.txt docker/tf-requirements-nodeps.txt docker/tf-requirements-dev.txt /tmp/
RUN pip install --no-cache-dir --disable-pip-version-check -r /tmp/tf-requirements.txt \
 && pip install --no-cache-dir --disable-pip-version-check --no-deps -r /tmp/tf-requirements-nodeps.txt \
 && if [ -n "$DEV" ]; then pip install --no-cache-dir --disable-pip-version-check -r /tmp/tf-requirements-dev.txt; fi
COPY pyproject.toml README.md /src/
COPY tf2caffe /src/tf2caffe
COPY shared /src/shared
COPY export_tf /src/export_tf
COPY import_caffe /src/import_caffe
RUN pip install --no-cache-dir --disable-pip-version-check --no-deps /src && rm -rf /src /tmp/tf-requirements*.txt
# Nothing is written into the folders mounted from the host: no bytecode (the image's own is compiled).
ENV TF2CAFFE_PYTHON=python3 PYTHONDONTWRITEBYTECODE=1 TF_CPP_MIN_LOG_LEVEL=2
WORKDIR /work
