# tf2caffe: convert TensorFlow/Keras models to Caffe, with proven parity.
#   make demo     set everything up, convert a small CNN trained on the bundled digits, print the report
#   make test     set everything up and run the whole test suite
#   make setup CAFFE=source, make test CAFFE=source: the same on Caffe built from source (Debian trixie)
#   make docker-test   build both Docker images and run the README's container workflow
#   make export MODEL=model.keras BUNDLE=model.npz [EXPORT_ARGS="..."]     (TF side)
#   make import BUNDLE=model.npz OUT=dir [IMPORT_ARGS="..."]                (Caffe side)
#   make inspect BUNDLE=model.npz
#   (scripts: ./tf2caffe.sh export|import|inspect ..., which exits with the tool's own status)

# What the user gives (MODEL, BUNDLE, OUT, the *_ARGS) is a file name or a list of options, never make or
# shell code. make would expand it (running any $(shell ...) in it) to export it to every recipe and, from
# GNU make 4.4, to $(shell ...): it is not exported as such (before any $(shell ...) below); each target
# hands its recipe the literal text ($(value ...)) in a TF2CAFFE_MAKE_* environment variable, used only
# inside double quotes, so no shell parses it either.
USER_VARS := MODEL BUNDLE OUT EXPORT_ARGS IMPORT_ARGS DEMO_ARGS BENCH_ARGS PYTEST_ARGS
unexport $(USER_VARS)
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV := $(ROOT)/.venv
# CAFFE picks the Caffe environment: debian (the default: Debian bullseye's python3-caffe, .caffe-root/) or
# source (Caffe built from source on Debian trixie, .caffe-root-source/). docker/caffe-run enters the one
# TF2CAFFE_ROOTFS names.
CAFFE ?= debian
ifeq ($(CAFFE),debian)
ROOTFS := $(ROOT)/.caffe-root
BUILD_ROOTFS := $(ROOT)/docker/build-rootfs
else ifeq ($(CAFFE),source)
ROOTFS := $(ROOT)/.caffe-root-source
BUILD_ROOTFS := $(ROOT)/docker/build-caffe-source
else
$(error CAFFE=$(CAFFE): use CAFFE=debian (Debian's python3-caffe, the default) or CAFFE=source (Caffe built from source))
endif
export TF2CAFFE_ROOTFS := $(ROOTFS)
# Inside the TF container TF2CAFFE_PYTHON names its Python; elsewhere the project's own venv.
TF_PYTHON := $(if $(TF2CAFFE_PYTHON),$(TF2CAFFE_PYTHON),$(VENV)/bin/python)
# Inside the Caffe container the system Python has caffe; elsewhere the root filesystem does (a caffe.py
# in the current folder does not count).
HAS_CAFFE := $(shell python3 -c "import sys; sys.path[:1] = [p for p in sys.path[:1] if p]; import importlib.util as u; sys.exit(u.find_spec('caffe') is None)" >/dev/null 2>&1 && echo yes)
CAFFE_RUN := $(if $(HAS_CAFFE),env PYTHONPATH=$(ROOT) GLOG_minloglevel=2,$(ROOT)/docker/caffe-run)
BUILD := $(ROOT)/build
# export, import and inspect run the tf2caffe command through this script, which picks each side's
# environment and exits with the tool's own status (make's is 2 for any failure).
TF2CAFFE := $(ROOT)/tf2caffe.sh

# The *_ARGS are lists of options, split into words as a shell would split them (quotes and backslashes:
# IMPORT_ARGS="--labels 'my labels.npy'") and nothing more: no $, no `...`, no globbing (Python's shlex,
# as pytest's PYTEST_ADDOPTS; `python3 -I`: no module of the current folder is imported). Usage, in a recipe: `args=$$($(SPLIT_ARGS) ENV_NAME MAKE_NAME) || exit 2;
# eval "set -- $$args"`: the words come back shell-quoted, for the eval to set them as "$$@".
SPLIT_ARGS := python3 -I -c 'import os, shlex, sys; sys.excepthook = lambda t, e, tb: sys.exit("make: %s: %s" % (sys.argv[2], e)); print(" ".join(shlex.quote(w) for w in shlex.split(os.environ.get(sys.argv[1]) or "")))'
split_args = args=$$($(SPLIT_ARGS) TF2CAFFE_MAKE_$1 $1) || exit 2; eval "set -- $$args"
# make exits 2 for any failed recipe, whatever the tool's status: the recipe names that status first
# (README: "Exit statuses"); a script that branches on it runs ./tf2caffe.sh, which exits with it.
status = { s=$$?; case $$s in 1) m="internal error";; 2) m="bad arguments or a missing file";; \
    3) m="parity check failed";; 4) m="unsupported layers";; 5) m="malformed bundle";; \
    6) m="the model file could not be loaded";; 7) m="Caffe rejected the net";; *) m="see the README";; esac; \
    echo "make $1: tf2caffe exited with status $$s ($$m); make exits 2 for any failure, ./tf2caffe.sh $1 exits $$s" >&2; \
    exit $$s; }

readme-table: tf-env
	@cd $(ROOT) && PYTHONPATH=$(ROOT) $(TF_PYTHON) -m export_tf.support_table --write

.PHONY: readme-table setup tf-env caffe-env export import inspect test test-unit-caffe demo clean-env help bench \
    docker-test
help:
	@sed -n '1,9p' $(ROOT)/Makefile | sed 's/^# //'

setup: tf-env caffe-env

tf-env:
ifeq ($(TF2CAFFE_PYTHON),)
	@$(MAKE) -s -C $(ROOT) $(VENV)/.tf2caffe-stamp
endif

$(VENV)/.tf2caffe-stamp: $(ROOT)/docker/tf-requirements.txt $(ROOT)/docker/tf-requirements-nodeps.txt \
    $(ROOT)/docker/tf-requirements-dev.txt
	@echo "setup: creating the TF environment in $(VENV)" >&2
	@test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	@$(VENV)/bin/pip install -q --disable-pip-version-check -r $(ROOT)/docker/tf-requirements.txt
	@$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps -r $(ROOT)/docker/tf-requirements-nodeps.txt
	@$(VENV)/bin/pip install -q --disable-pip-version-check -r $(ROOT)/docker/tf-requirements-dev.txt
	@touch $@

# OpenCV's dnn, for --target opencv and --verify-with opencv (import_caffe/runtimes/opencv.py; the same pin in
# docker/Dockerfile.caffe):
# opencv-python-headless pinned to the newest wheel that supports the Caffe side's Python 3.9 with numpy 1.19
# (4.12 and later need numpy 2), put into the root filesystem's /opt/tf2caffe-opencv. A plain import never needs it.
OPENCV_PIN := opencv-python-headless==4.11.0.86
OPENCV_DIR := $(ROOTFS)/opt/tf2caffe-opencv
# MNN, for --target mnn and --verify-with mnn (import_caffe/runtimes/mnn.py): the wheel pinned by version and
# sha256, into its own /opt/tf2caffe-mnn (on no Python path), without the telemetry module that MNN's
# Python tools import (it pip-installs aliyun-log-python-sdk by itself); run only without network.
MNN_PIN := mnn==3.6.1
# one wheel per Caffe side's Python: bullseye's 3.9, trixie's 3.13 (CAFFE=source)
MNN_PYTHON := $(if $(filter source,$(CAFFE)),3.13,3.9)
MNN_SHA256_3.9 := 8f6f8e0ead5067018ee35b48d5a9a64da723c0e891a71676e0d799d09ae448f7
MNN_SHA256_3.13 := 34e8a4ebc2671459dbf1305f26f6861d14897b581cff4d0920ae8805445af46f
MNN_DIR := $(ROOTFS)/opt/tf2caffe-mnn

caffe-env:
ifneq ($(HAS_CAFFE),yes)
	@$(BUILD_ROOTFS) $(ROOTFS)
	@test -f $(OPENCV_DIR)/.pin-$(OPENCV_PIN) || { echo "setup: installing $(OPENCV_PIN) into $(OPENCV_DIR)" >&2; \
	    rm -rf $(OPENCV_DIR) $(OPENCV_DIR).partial && \
	    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-deps --only-binary=:all: --python-version 3.9 \
	        --platform manylinux2014_x86_64 --target $(OPENCV_DIR).partial $(OPENCV_PIN) && \
	    touch $(OPENCV_DIR).partial/.pin-$(OPENCV_PIN) && mv $(OPENCV_DIR).partial $(OPENCV_DIR); }
	@test -f $(MNN_DIR)/.pin-$(MNN_PIN) || { echo "setup: installing $(MNN_PIN) into $(MNN_DIR)" >&2; \
	    rm -rf $(MNN_DIR) $(MNN_DIR).partial $(MNN_DIR).wheel && mkdir -p $(MNN_DIR).wheel && \
	    python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
	        --python-version $(MNN_PYTHON) --platform manylinux2014_x86_64 -d $(MNN_DIR).wheel $(MNN_PIN) && \
	    echo "$(MNN_SHA256_$(MNN_PYTHON))  $$(ls $(MNN_DIR).wheel/*.whl)" | sha256sum -c --quiet && \
	    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-deps --no-index --no-compile \
	        --only-binary=:all: --python-version $(MNN_PYTHON) --platform manylinux2014_x86_64 --target $(MNN_DIR).partial \
	        $(MNN_DIR).wheel/*.whl && rm -rf $(MNN_DIR).wheel $(MNN_DIR).partial/bin && \
	    rm $(MNN_DIR).partial/MNN/tools/utils/log.py && \
	    touch $(MNN_DIR).partial/.pin-$(MNN_PIN) && mv $(MNN_DIR).partial $(MNN_DIR); }
endif

export: export TF2CAFFE_MAKE_MODEL := $(value MODEL)
export: export TF2CAFFE_MAKE_BUNDLE := $(value BUNDLE)
export: export TF2CAFFE_MAKE_EXPORT_ARGS := $(value EXPORT_ARGS)
export: tf-env
	@[ -n "$$TF2CAFFE_MAKE_MODEL" ] && [ -n "$$TF2CAFFE_MAKE_BUNDLE" ] || \
	    { echo "usage: make export MODEL=model.keras BUNDLE=model.npz [EXPORT_ARGS=...]" >&2; exit 2; }
	@$(call split_args,EXPORT_ARGS); \
	    $(TF2CAFFE) export --output="$$TF2CAFFE_MAKE_BUNDLE" "$$@" -- "$$TF2CAFFE_MAKE_MODEL" || $(call status,export)

import: export TF2CAFFE_MAKE_BUNDLE := $(value BUNDLE)
import: export TF2CAFFE_MAKE_OUT := $(value OUT)
import: export TF2CAFFE_MAKE_IMPORT_ARGS := $(value IMPORT_ARGS)
import: caffe-env
	@[ -n "$$TF2CAFFE_MAKE_BUNDLE" ] && [ -n "$$TF2CAFFE_MAKE_OUT" ] || \
	    { echo "usage: make import BUNDLE=model.npz OUT=dir [IMPORT_ARGS=...]" >&2; exit 2; }
	@$(call split_args,IMPORT_ARGS); \
	    $(TF2CAFFE) import --output="$$TF2CAFFE_MAKE_OUT" "$$@" -- "$$TF2CAFFE_MAKE_BUNDLE" || $(call status,import)

inspect: export TF2CAFFE_MAKE_BUNDLE := $(value BUNDLE)
inspect:
	@[ -n "$$TF2CAFFE_MAKE_BUNDLE" ] || { echo "usage: make inspect BUNDLE=model.npz" >&2; exit 2; }
	@$(TF2CAFFE) inspect -- "$$TF2CAFFE_MAKE_BUNDLE" || $(call status,inspect)

demo: export TF2CAFFE_MAKE_DEMO_ARGS := $(value DEMO_ARGS)
demo: setup
	@mkdir -p $(BUILD)/demo
	@PYTHONPATH=$(ROOT) $(TF_PYTHON) -m export_tf.demo $(BUILD)/demo
	@$(TF2CAFFE) export $(BUILD)/demo/digits_cnn.keras -o $(BUILD)/demo/digits_cnn.npz \
	    --reference-inputs $(BUILD)/demo/digits_test_x.npy -q || $(call status,export)
	@$(call split_args,DEMO_ARGS); \
	    $(TF2CAFFE) import $(BUILD)/demo/digits_cnn.npz -o $(BUILD)/demo/caffe \
	    --labels $(BUILD)/demo/digits_test_y.npy "$$@" || $(call status,import)

test-unit-caffe: caffe-env
	@echo "== unit tests under the Caffe environment's Python" >&2
	@cd $(ROOT) && $(CAFFE_RUN) python3 -m pytest -q -p no:cacheprovider tests/unit tests/caffe_env

# A benchmark, not a test: time and peak memory of export and import against the frameworks' own I/O.
bench: export TF2CAFFE_MAKE_BENCH_ARGS := $(value BENCH_ARGS)
bench: setup
	@$(call split_args,BENCH_ARGS); cd $(ROOT) && $(TF_PYTHON) $(ROOT)/bench/run.py "$$@"

test: export TF2CAFFE_MAKE_PYTEST_ARGS := $(value PYTEST_ARGS)
test: setup test-unit-caffe
	@echo "== unit and end-to-end tests under the TF environment's Python (Caffe: CAFFE=$(CAFFE))" >&2
	@$(call split_args,PYTEST_ARGS); \
	    cd $(ROOT) && PYTHONPATH=$(ROOT) $(TF_PYTHON) -m pytest -q -p no:cacheprovider tests "$$@"
	@echo "== the Docker workflow, if this machine built the images before (make docker-test)" >&2
	@$(ROOT)/docker/docker-test --if-ready

# Builds both Docker images as the README says and runs its container workflow (docker/docker-test).
docker-test:
	@$(ROOT)/docker/docker-test

clean-env:
	rm -rf $(VENV) $(ROOT)/.caffe-root $(ROOT)/.caffe-root.partial $(ROOT)/.caffe-root-source \
	    $(ROOT)/.caffe-root-source.partial
