# The two commands of the README: `make run` and `make test`. Everything else is set-up they need.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | sha256sum | cut -c1-12)
PG_URL ?= postgres://postgres@127.0.0.1:5432/cosmos

.PHONY: install system-deps run worker test test-core test-browser test-postgres bench clean

$(STAMP): requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned: the CPU build; anything else would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# openssh-server (a real sshd for the SSH tests) and chromium (browser tests), from Debian.
system-deps:
	bash .ci/system-deps.sh

## Start the app on its embedded defaults: SQLite, a simulated GPU host, a first admin printed.
run: install
	$(PY) manage.py runcosmos

## Only the task worker (for a second machine, or when the web runs elsewhere).
worker: install
	$(PY) manage.py qcluster

## The whole test suite: the core tests, then the browser tests in their own process.
test: install system-deps
	$(PY) -m pytest -m "not browser" -n 2 --dist loadfile
	# exit 5 = no browser test collected (e.g. chromium-less checkout): not a failure of the suite
	$(PY) -m pytest -m browser -p no:xdist || [ $$? -eq 5 ]

test-postgres: install system-deps
	DATABASE_URL=$(PG_URL) $(PY) -m pytest -m "not browser" -n 2 --dist loadfile

bench: install
	for b in bench/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf var .pytest_cache
