# The TF side: pinned tensorflow-cpu (Keras 3) plus tf-keras for legacy Keras 2 files, from the same
# docker/tf-requirements*.txt the Makefile installs into .venv/, plus the `tf2caffe` command.
#   docker build -f docker/Dockerfile.tf -t tf2caffe-tf .
#   docker run --rm -v "$PWD:/data" -w /data tf2caffe-tf tf2caffe export model.keras -o model.npz
#   docker run --rm -v "$PWD:/work" -w /work tf2caffe-tf make export MODEL=model.keras BUNDLE=model.npz
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/*
COPY docker/tf-requirements.txt docker/tf-requirements-nodeps.txt /tmp/
RUN pip install --no-cache-dir -r /tmp/tf-requirements.txt \
 && pip install --no-cache-dir --no-deps -r /tmp/tf-requirements-nodeps.txt
COPY pyproject.toml README.md /src/
COPY tf2caffe /src/tf2caffe
COPY shared /src/shared
COPY export_tf /src/export_tf
COPY import_caffe /src/import_caffe
RUN pip install --no-cache-dir --no-deps /src && rm -rf /src
ENV TF2CAFFE_PYTHON=python3
WORKDIR /work
