# The two commands of the README. Each installs what is missing, configures, builds, then acts.
#   make study   run the study on the embedded default (generated data; quick grid on CPU, paper43 on CUDA)
#   make test    run the whole test suite
.PHONY: study test build bootstrap clean

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

test: build
	ctest --preset $(PRESET)

clean:
	rm -rf build build-cuda
