# hasten: self-supervised ViT pretraining with compressed token sequences.
# `make run` sets up and runs the main job; `make test` sets up and runs every test.
# The CPU program never needs CUDA; the CUDA backend joins when nvcc is found (NO_CUDA=1 skips).

CC      ?= gcc
BUILD   := build
PKGS    := gsl hdf5 zlib libpng libjpeg
DEB_PKGS := build-essential pkg-config libopenblas-openmp-dev libgsl-dev libhdf5-dev \
            hdf5-tools zlib1g-dev libpng-dev libjpeg-dev gnuplot-nox
DATA_PKGS := dataset-fashion-mnist

# OpenBLAS's OpenMP variant: it shares our OpenMP thread pool, so an sgemm called inside a
# parallel region runs on its own thread instead of fighting a second pool of spinning threads.
BLAS_DIR := /usr/lib/x86_64-linux-gnu/openblas-openmp
BLAS_INC := /usr/include/x86_64-linux-gnu/openblas-openmp

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN   := -Wall -Wextra
ifeq ($(CI),true)
WARN   += -Werror
endif
CFLAGS ?= -O2
CFLAGS += -std=c11 -D_GNU_SOURCE -march=native -fopenmp $(WARN) -MMD -MP \
          -Isrc -Ikernels -Ianalysis -Isearch -I$(BLAS_INC) $(PKG_CFLAGS)
CFLAGS += $(EXTRA_CFLAGS)
LDLIBS := $(EXTRA_CFLAGS) -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas $(PKG_LIBS) -lm -fopenmp

NVCC := $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CU_SRC := $(wildcard kernels/cuda/*.cu)
ifeq ($(NO_CUDA),1)
NVCC :=
endif
ifneq ($(and $(NVCC),$(CU_SRC)),)
CUDA_HOME := $(patsubst %/bin/nvcc,%,$(NVCC))
CU_OBJ  := $(CU_SRC:%.cu=$(BUILD)/%.o)
CFLAGS  += -DHASTEN_CUDA
LDLIBS  += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart -lstdc++
NVFLAGS := -O2 -std=c++17 -Isrc -Ikernels -gencode arch=compute_90,code=sm_90 \
           -gencode arch=compute_80,code=sm_80 -MMD -MP
endif

LIB_SRC  := $(sort $(shell find src kernels analysis search -name '*.c' ! -name main.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(CU_OBJ)
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
HASTEN   := $(BUILD)/hasten

.PHONY: all run test bench deps data clean
all: $(HASTEN) $(TEST_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# The CPU kernels are the hot path: -O3 lets gcc vectorise the elementwise loops.
$(BUILD)/kernels/cpu/%.o: kernels/cpu/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -O3 -c $< -o $@

$(BUILD)/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVFLAGS) -c $< -o $@

$(BUILD)/libhasten.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(HASTEN): $(BUILD)/src/main.o $(BUILD)/libhasten.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/libhasten.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# Installs the Debian packages the build needs; does nothing when they are all present.
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# Installs Debian's Fashion-MNIST (gzip'd IDX files under /usr/share/datasets/fashion-mnist).
data:
	@dpkg -s $(DATA_PKGS) >/dev/null 2>&1 || { \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(DATA_PKGS); }

run: deps data
	$(MAKE) all
	$(HASTEN) run

test: deps data
	$(MAKE) all
	@sh tests/run_all.sh $(TEST_BIN)

bench: deps
	$(MAKE) all
	$(HASTEN) bench

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
