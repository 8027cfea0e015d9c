# The two commands a user needs: `make demo` (the main job) and `make test`.
# Both bootstrap first; bootstrap is idempotent and takes seconds when nothing changed.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: help bootstrap test demo lint bench lock clean distclean

help:
	@echo "make demo       run the main job on the embedded default (bootstraps first)"
	@echo "make test       run the whole test suite, linters included (bootstraps first)"
	@echo "make bootstrap  create .venv, install pinned ROS 2 Jazzy + deps, colcon build, write env.sh"
	@echo "make lint       ruff + mypy only"
	@echo "make bench      benchmarks: print tables, write JSON to bench-results/"
	@echo "make lock       regenerate requirements/constraints.txt from a fresh venv"
	@echo "make clean      remove build/ install/ log/;  make distclean also removes .venv and env.sh"

bootstrap:
	@bash scripts/bootstrap.sh

test: bootstrap
	@bash scripts/run_tests.sh $(PYTEST_ARGS)

demo: bootstrap
	@bash scripts/demo.sh $(DEMO_ARGS)

lint: bootstrap
	@bash scripts/run_tests.sh test/lint

bench: bootstrap
	@bash scripts/with_env.sh python test/bench/bench_fdr.py --out bench-results/fdr.json
	@bash scripts/with_env.sh python test/bench/bench_fdr_node.py --out bench-results/fdr_node.json
	@bash scripts/with_env.sh python test/bench/bench_estimator.py --out bench-results/estimator.json
	@bash scripts/with_env.sh python test/bench/bench_estimator_gate.py --out bench-results/estimator_gate.json
	@bash scripts/with_env.sh python test/bench/bench_vio.py --out bench-results/vio.json

lock:
	@bash scripts/lock.sh

clean:
	rm -rf build install log build.log

distclean: clean
	rm -rf .venv env.sh
