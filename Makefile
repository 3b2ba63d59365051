# ctxbus: `make run` and `make test` do every set-up step on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := run
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy

PY := .venv/bin/python
# Debian packages the app needs to run: tesseract with English and Simplified Chinese data for
# the indexer (without them it says `unavailable` and everything else runs).
RUN_APT_PACKAGES := tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim
# ... and those the tests need on top: an X server, X clients to draw on it (xsetroot is in
# x11-xserver-utils), a window manager, the browser Playwright drives, a Chinese font to draw
# the text the indexer's tests read.
APT_PACKAGES := $(RUN_APT_PACKAGES) xvfb x11-apps x11-xserver-utils xdotool openbox chromium \
	fonts-wqy-microhei
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint typecheck pytest bench venv uv sysdeps run-sysdeps apt-install clean

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check uv

# Bytecode compiled once at install: the environment may forbid writing it at run time
# (PYTHONDONTWRITEBYTECODE), and every backend start would then compile FastAPI from source.
venv: uv
	uv sync --frozen --compile-bytecode --quiet
	.venv/bin/python -m compileall -q -j 0 bus services backend frontend >/dev/null

sysdeps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES)"

run-sysdeps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(RUN_APT_PACKAGES)"

apt-install:
	@missing=""; \
	for pkg in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

run: venv run-sysdeps
	.venv/bin/ctxbus up

lint: venv
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports

typecheck: venv
	.venv/bin/mypy

pytest: venv sysdeps
	.venv/bin/pytest

test: venv sysdeps lint typecheck pytest

bench: venv sysdeps
	$(PY) -m bench

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache
