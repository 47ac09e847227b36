# trtdiff developer commands. `make demo` and `make test` do all the set-up themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv demo test test-fast bench fixtures conformance clean

venv: $(STAMP)

# the test extra includes tensorrt-rtx: the TensorRT builder and ONNX parser tests/trt runs on a CPU
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

## Run trtdiff on the bundled fixture; writes reports/demo.html and reports/demo.json
demo: venv
	$(BIN)/trtdiff run fixtures/demo_convnet.onnx --fp16 --mark-all \
		--json reports/demo.json --report reports/demo.html; \
	status=$$?; if [ $$status -gt 1 ]; then exit $$status; fi; \
	echo "report written to reports/demo.html (exit $$status: 0 pass, 1 accuracy mismatch)"

## Install and run the whole test suite (browser tests skip with a reason when Chromium is absent)
test: venv
	$(BIN)/python -m pytest -q

test-fast: venv
	$(BIN)/python -m pytest -q -m "not slow and not browser"

## Benchmarks print their figures; run on demand, not in CI
bench: venv
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit $$?; done

## ONNX conformance: every ONNX backend node test ONNX Runtime runs, through `run --fp16 --mark-all`
## and `run --emulate int8 --mark-all`; prints the counts (minutes; CI runs a fixed sample of 240)
conformance: venv
	$(BIN)/python tests/conformance.py

fixtures: venv
	$(BIN)/python fixtures/build_fixtures.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
