# The two commands of the README. Each installs what is missing, configures, builds, then acts.
#   make study   run the study on the embedded default (generated data; quick grid on CPU, paper43 on CUDA)
#   make test    run the whole test suite (the LibTorch build, then the torch-free build)
#   make install-python   install the CLI and libsedenergy under PREFIX and the Python package with pip
.PHONY: study test build build-notorch bootstrap clean install-python

PRESET ?= default
BUILD_DIR = $(if $(filter cuda,$(PRESET)),build-cuda,build)
# The committed study configuration for the build: quick on the CPU, the paper's protocol on CUDA.
STUDY_ARGS ?= $(if $(filter cuda,$(PRESET)),--config paper43,--config quick)

bootstrap:
	@bash scripts/bootstrap.sh

build: bootstrap
	cmake --preset $(PRESET)
	cmake --build --preset $(PRESET) -j $$(nproc)

study: build
	./$(BUILD_DIR)/sedenergy study $(STUDY_ARGS)

# The build without LibTorch (meter, libsedenergy, measure, sensors, report, flops): built and tested too.
build-notorch: bootstrap
	cmake --preset notorch
	cmake --build --preset notorch -j $$(nproc)

test: build build-notorch
	ctest --preset $(PRESET)
	ctest --preset notorch

# Into the active virtual environment when there is one, else the system (/usr/local; Debian's pip then needs
# --break-system-packages). Offline: pip builds the package with the setuptools already installed.
PREFIX ?= $(if $(VIRTUAL_ENV),$(VIRTUAL_ENV),/usr/local)
PYTHON ?= $(if $(VIRTUAL_ENV),$(VIRTUAL_ENV)/bin/python,/usr/bin/python3)
PIP_FLAGS ?= $(if $(VIRTUAL_ENV),,--break-system-packages)
install-python: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)
	-ldconfig 2>/dev/null
	rm -rf python/build
	$(PYTHON) -m pip install --no-index --no-build-isolation --disable-pip-version-check $(PIP_FLAGS) ./python
	$(PYTHON) -c 'import sedenergy; print("sedenergy", sedenergy.__version__, "with libsedenergy", sedenergy.library_version())'

clean:
	rm -rf build build-cuda build-notorch python/build
