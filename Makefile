# tf2caffe: convert TensorFlow/Keras models to Caffe, with proven parity.
#   make demo     set everything up, convert a small CNN trained on the bundled digits, print the report
#   make test     set everything up and run the whole test suite
#   make export MODEL=model.keras BUNDLE=model.npz [EXPORT_ARGS="..."]     (TF side)
#   make import BUNDLE=model.npz OUT=dir [IMPORT_ARGS="..."]                (Caffe side)
#   make inspect BUNDLE=model.npz
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV := $(ROOT)/.venv
ROOTFS := $(ROOT)/.caffe-root
# Inside the TF container TF2CAFFE_PYTHON names its Python; elsewhere the project's own venv.
TF_PYTHON := $(if $(TF2CAFFE_PYTHON),$(TF2CAFFE_PYTHON),$(VENV)/bin/python)
# Inside the Caffe container the system Python has caffe; elsewhere the root filesystem does.
HAS_CAFFE := $(shell python3 -c "import importlib.util as u, sys; sys.exit(u.find_spec('caffe') is None)" >/dev/null 2>&1 && echo yes)
CAFFE_RUN := $(if $(HAS_CAFFE),env PYTHONPATH=$(ROOT) GLOG_minloglevel=2,$(ROOT)/docker/caffe-run)
BUILD := $(ROOT)/build

readme-table: tf-env
	@cd $(ROOT) && PYTHONPATH=$(ROOT) $(TF_PYTHON) -m export_tf.support_table --write

.PHONY: readme-table setup tf-env caffe-env export import inspect test test-unit-caffe demo clean-env help bench
help:
	@sed -n '2,7p' $(ROOT)/Makefile | sed 's/^# //'

setup: tf-env caffe-env

tf-env:
ifeq ($(TF2CAFFE_PYTHON),)
	@$(MAKE) -s -C $(ROOT) $(VENV)/.tf2caffe-stamp
endif

$(VENV)/.tf2caffe-stamp: $(ROOT)/docker/tf-requirements.txt $(ROOT)/docker/tf-requirements-nodeps.txt
	@echo "setup: creating the TF environment in $(VENV)" >&2
	@test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	@$(VENV)/bin/pip install -q --disable-pip-version-check -r $(ROOT)/docker/tf-requirements.txt
	@$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps -r $(ROOT)/docker/tf-requirements-nodeps.txt
	@touch $@

caffe-env:
ifneq ($(HAS_CAFFE),yes)
	@$(ROOT)/docker/build-rootfs $(ROOTFS)
endif

export: tf-env
	@test -n "$(MODEL)" -a -n "$(BUNDLE)" || { echo "usage: make export MODEL=model.keras BUNDLE=model.npz [EXPORT_ARGS=...]" >&2; exit 2; }
	@PYTHONPATH=$(ROOT) $(TF_PYTHON) -m export_tf "$(MODEL)" -o "$(BUNDLE)" $(EXPORT_ARGS)

import: caffe-env
	@test -n "$(BUNDLE)" -a -n "$(OUT)" || { echo "usage: make import BUNDLE=model.npz OUT=dir [IMPORT_ARGS=...]" >&2; exit 2; }
	@mkdir -p "$(OUT)"
	@$(CAFFE_RUN) $(if $(HAS_CAFFE),,--bind "$(dir $(abspath $(BUNDLE)))" --bind "$(abspath $(OUT))" \
	    $(foreach f,$(IMPORT_ARGS),$(if $(wildcard $(f)),$(if $(wildcard $(f)/.),,--bind "$(dir $(abspath $(f)))")))) \
	    python3 -m import_caffe "$(BUNDLE)" -o "$(OUT)" $(IMPORT_ARGS)

inspect:
	@test -n "$(BUNDLE)" || { echo "usage: make inspect BUNDLE=model.npz" >&2; exit 2; }
	@PYTHONPATH=$(ROOT) $(if $(HAS_CAFFE),python3,$(TF_PYTHON)) -m import_caffe --inspect "$(BUNDLE)"

demo: setup
	@mkdir -p $(BUILD)/demo
	@PYTHONPATH=$(ROOT) $(TF_PYTHON) -m export_tf.demo $(BUILD)/demo
	@$(MAKE) -s -C $(ROOT) export MODEL=$(BUILD)/demo/digits_cnn.keras BUNDLE=$(BUILD)/demo/digits_cnn.npz \
	    EXPORT_ARGS="--reference-inputs $(BUILD)/demo/digits_test_x.npy -q"
	@$(MAKE) -s -C $(ROOT) import BUNDLE=$(BUILD)/demo/digits_cnn.npz OUT=$(BUILD)/demo/caffe \
	    IMPORT_ARGS="--labels $(BUILD)/demo/digits_test_y.npy $(DEMO_ARGS)"

test-unit-caffe: caffe-env
	@echo "== unit tests under the Caffe environment's Python" >&2
	@cd $(ROOT) && $(CAFFE_RUN) python3 -m pytest -q -p no:cacheprovider tests/unit tests/caffe_env

# A benchmark, not a test: time and peak memory of export and import against the frameworks' own I/O.
bench: setup
	@cd $(ROOT) && $(TF_PYTHON) $(ROOT)/bench/run.py $(BENCH_ARGS)

test: setup test-unit-caffe
	@echo "== unit and end-to-end tests under the TF environment's Python" >&2
	@cd $(ROOT) && PYTHONPATH=$(ROOT) $(TF_PYTHON) -m pytest -q -p no:cacheprovider tests $(PYTEST_ARGS)

clean-env:
	rm -rf $(VENV) $(ROOTFS) $(ROOTFS).partial
