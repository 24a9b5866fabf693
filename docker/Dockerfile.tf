# The TF side: pinned tensorflow-cpu (Keras 3) plus tf-keras for legacy Keras 2 files.
#   docker build -f docker/Dockerfile.tf -t tf2caffe-tf .
#   docker run --rm -v "$PWD:/work" -w /work tf2caffe-tf make export MODEL=model.keras BUNDLE=model.npz
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/*
COPY docker/tf-requirements.txt docker/tf-requirements-nodeps.txt /tmp/
RUN pip install --no-cache-dir -r /tmp/tf-requirements.txt \
 && pip install --no-cache-dir --no-deps -r /tmp/tf-requirements-nodeps.txt
ENV TF2CAFFE_PYTHON=python3
WORKDIR /work
