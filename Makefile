.PHONY: run test test-fast lint setup

setup:
	./scripts/setup.sh

run:
	./scripts/run.sh

test:
	./scripts/test.sh

# Everything but the tests that start servers or other processes (pytest -m e2e) and Docker,
# on every core (pytest-xdist; at most 4 workers, each loads the models).
test-fast:
	./scripts/test.sh -m "not e2e and not deploy" -n auto --maxprocesses 4

lint:
	.venv/bin/ruff check appliance tests scripts
	.venv/bin/ruff format --check appliance tests scripts
