# control.mk: the C++ control plane (libspan, spand, spanctl, tests, fuzz,
# benchmark).  Included from the top-level Makefile, which defines TOP and
# BUILD.  Targets: control, check-unit, fuzz, bench-channel.

CONTROL_SRC   := $(TOP)/control
CONTROL_BUILD := $(BUILD)/control
CONTROL_JOBS  ?= 2
FUZZ_SECONDS  ?= 30
FUZZ_LONG_SECONDS ?= 600
CONTROL_CMAKE_FLAGS ?=

.PHONY: control check-unit fuzz bench-channel

control:
	cmake -G Ninja -S $(CONTROL_SRC) -B $(CONTROL_BUILD) \
		-DCMAKE_BUILD_TYPE=Release $(CONTROL_CMAKE_FLAGS) >/dev/null
	ninja -C $(CONTROL_BUILD) -j$(CONTROL_JOBS)

# All GoogleTests plus a bounded fuzz run; TAP in $(BUILD)/results/unit.tap.
check-unit: control
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(CONTROL_SRC)/tests/run-unit.sh \
		$(CONTROL_BUILD) $(BUILD)/results/unit.tap

fuzz: control
	mkdir -p $(BUILD)/fuzz/corpus
	$(CONTROL_BUILD)/fuzz_validate -max_total_time=$(FUZZ_LONG_SECONDS) \
		-max_len=8192 -print_final_stats=1 $(BUILD)/fuzz/corpus

bench-channel: control
	mkdir -p $(BUILD)/bench
	$(CONTROL_BUILD)/channel_bench --benchmark_out=$(BUILD)/bench/channel.json \
		--benchmark_out_format=json --benchmark_counters_tabular=true
