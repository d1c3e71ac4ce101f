.PHONY: run test lint setup

setup:
	./scripts/setup.sh

run:
	./scripts/run.sh

test:
	./scripts/test.sh

lint:
	.venv/bin/ruff check appliance tests scripts
	.venv/bin/ruff format --check appliance tests scripts
