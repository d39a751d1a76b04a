# hasten: self-supervised ViT pretraining with compressed token sequences.
# `make run` sets up and runs the main job; `make test` sets up and runs every test.
# The CPU program never needs CUDA; the CUDA backend joins when nvcc is found (NO_CUDA=1 skips).

CC      ?= gcc
BUILD   := build
PKGS    := gsl hdf5 zlib libpng libjpeg
DEB_PKGS := build-essential pkg-config libopenblas-openmp-dev libgsl-dev libhdf5-dev \
            hdf5-tools zlib1g-dev libpng-dev libjpeg-dev gnuplot-nox \
            clang libclang-rt-14-dev libomp-14-dev valgrind
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
# NATIVE= drops -march=native: valgrind cannot run AVX-512 code, and a build meant for another
# machine must not assume this one's instructions.
NATIVE ?= -march=native
CFLAGS += -std=c11 -D_GNU_SOURCE $(NATIVE) -fopenmp $(WARN) -MMD -MP \
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
# Machine code for sm_80 (runs on all 8.x GPUs) and sm_90, plus compute_90 PTX: without PTX a
# newer GPU (Blackwell, sm_100+) has no kernel image and the first launch fails; with it the
# driver compiles the kernels for that GPU on first use.
NVFLAGS := -O2 -std=c++17 -Isrc -Ikernels -gencode arch=compute_90,code=[sm_90,compute_90] \
           -gencode arch=compute_80,code=sm_80 -MMD -MP -Xcompiler -Wall,-Wextra
ifeq ($(CI),true)
NVFLAGS += -Werror all-warnings
endif
endif

LIB_SRC  := $(sort $(shell find src kernels analysis search -name '*.c' ! -name main.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(CU_OBJ)
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
HASTEN   := $(BUILD)/hasten

.PHONY: all run test bench bench-cuda deps data clean test-asan valgrind fuzz
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

# The GPU benchmark: ViT-S/16 at 224 px, batch 256 (HASTEN_TF32=1 lets cuBLAS use TF32).
# Without a usable GPU it prints one line and succeeds, so make flows on CPU-only machines
# that name every target keep working.
bench-cuda: deps
	$(MAKE) $(HASTEN)
	$(HASTEN) bench --suite vit-s --device cuda --skip-unavailable

clean:
	rm -rf $(BUILD) build-asan build-vg build-fuzz

# ---- reliability: sanitizers, valgrind, fuzzing (README: Tests) ----

# Every test program built and run with AddressSanitizer and UBSan in build-asan/. Leak
# detection is off: user_error() exits without unwinding, and OpenBLAS/libgomp keep thread
# pools alive at exit, so every run would report "leaks" that are not bugs. protect_shadow_gap=0
# lets the CUDA driver map its memory where ASan would reserve a gap (GPU machines only).
ASAN_ENV := ASAN_OPTIONS=halt_on_error=1:detect_leaks=0:abort_on_error=0:protect_shadow_gap=0 \
            UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 HASTEN_BIN=build-asan/hasten
test-asan: deps data
	$(MAKE) BUILD=build-asan EXTRA_CFLAGS="-g -fno-omit-frame-pointer -fsanitize=address,undefined" all
	@$(ASAN_ENV) sh tests/run_all.sh $(TEST_BIN:$(BUILD)/%=build-asan/%)

# A short tiny-preset training run under valgrind memcheck, built without -march=native.
# Leaks are not errors (see test-asan); any invalid access or use of uninitialised memory is.
VG_DIR := /tmp/hasten-valgrind
valgrind: deps data
	$(MAKE) BUILD=build-vg NATIVE= EXTRA_CFLAGS=-g build-vg/hasten
	rm -rf $(VG_DIR) && mkdir -p $(VG_DIR)
	OMP_NUM_THREADS=2 valgrind --error-exitcode=99 --leak-check=no --track-origins=yes \
	    --suppressions=tests/valgrind.supp build-vg/hasten train --preset tiny --budget 700 \
	    --eval-every 0 --subset-train 64 --subset-test 32 --out $(VG_DIR)/run.h5
	rm -rf $(VG_DIR)

# libFuzzer targets (clang), each run FUZZ_SECONDS on its committed corpus in fuzz/corpus/.
# A finding lands in build-fuzz/findings/ and fails the target; once fixed, add it to
# fuzz/corpus/<target>/, which `make test` replays (tests/test_fuzz_corpus.c).
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := idx cifar image schedule args
FUZZ_CFLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address -DHASTEN_FUZZ
# The readers' streams are tracked so a user error leaks no descriptor; the rest stop a
# command once its flags are parsed (see fuzz/fuzz_common.c).
FUZZ_WRAP := $(foreach f,fopen fclose gzopen gzclose_r train_run h5in_open method_init pipe,\
               -Wl,--wrap=$(f))
FUZZ_SRC := $(FUZZ_TARGETS:%=fuzz/fuzz_%.c)
fuzz: deps
	$(MAKE) CC=clang BUILD=build-fuzz NATIVE= EXTRA_CFLAGS="$(FUZZ_CFLAGS)" build-fuzz/libhasten.a
	@mkdir -p build-fuzz/findings
	@for t in $(FUZZ_TARGETS); do \
	    clang $(FUZZ_CFLAGS) -std=c11 -D_GNU_SOURCE -fopenmp -Isrc -Ikernels -Ianalysis -Ifuzz \
	        -I$(BLAS_INC) $(PKG_CFLAGS) -fsanitize=fuzzer fuzz/fuzz_$$t.c fuzz/fuzz_common.c \
	        build-fuzz/libhasten.a -o build-fuzz/fuzz_$$t $(FUZZ_WRAP) \
	        -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas $(PKG_LIBS) -lm || exit 1; \
	done
	@fail=""; for t in $(FUZZ_TARGETS); do \
	    mkdir -p build-fuzz/corpus/$$t; \
	    ASAN_OPTIONS=detect_leaks=0 build-fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	        -max_len=8192 -timeout=10 -close_fd_mask=3 -print_final_stats=1 \
	        -artifact_prefix=build-fuzz/findings/$$t- build-fuzz/corpus/$$t fuzz/corpus/$$t \
	        > build-fuzz/$$t.log 2>&1 || fail="$$fail $$t"; \
	    echo "fuzz $$t: $$(grep -E '^stat::number_of_executed_units' build-fuzz/$$t.log | \
	        sed 's/.*: *//') runs in $(FUZZ_SECONDS) s, $$(grep -cE '^#[0-9]+.*NEW' \
	        build-fuzz/$$t.log) new inputs (log build-fuzz/$$t.log)"; \
	done; \
	if [ -n "$$fail" ]; then echo "fuzz: findings in build-fuzz/findings for:$$fail"; exit 1; fi

# Fuzz drivers built as plain replayers of their corpus for `make test` (no clang needed).
FUZZ_REPLAY := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/replay_%)
all: $(FUZZ_REPLAY)
$(BUILD)/fuzz/replay_%: fuzz/fuzz_%.c fuzz/fuzz_common.c fuzz/replay_main.c $(BUILD)/libhasten.a
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -MMD -MP,$(CFLAGS)) -Ifuzz $^ -o $@ $(FUZZ_WRAP) $(LDLIBS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
