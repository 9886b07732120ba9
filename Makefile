# The two commands a newcomer needs (run as root on Debian 12):
#   make run    set up everything and run the hotline (Asterisk test bed, app, simulated operators)
#   make test   set up everything and run the whole test suite (real Asterisk included)

VENV ?= .venv
DEBIAN_PACKAGES := debootstrap espeak-ng sox ffmpeg procps python3-venv chromium postgresql graphviz
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Each long step says what it does, then how long it took.
STEP = step() { echo "==> $$1"; _started=$$(date +%s); }; done_() { echo "    done in $$(( $$(date +%s) - _started )) s"; }

.PHONY: setup system run test lint sandbox-down catalogs

setup: system $(VENV)/.installed

# Debian packages the host needs: debootstrap builds the Asterisk chroot, espeak-ng and
# ffmpeg build the prompts, graphviz draws flows for admins. Installed only when missing.
system:
	@$(STEP); missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  step "Debian packages: installing$$missing (a few minutes the first time)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null && done_; \
	fi

$(VENV)/.installed: pyproject.toml
	@$(STEP); step "virtualenv $(VENV): the package and its test tools (a minute or two the first time)"; \
	python3 -m venv $(VENV) && \
	$(VENV)/bin/pip install -q --upgrade pip && \
	$(VENV)/bin/pip install -q -e '.[test]' && \
	touch $@ && done_

run: setup
	$(VENV)/bin/ivr run

lint: setup
	@$(STEP); step "lint: ruff and mypy --strict"; \
	$(VENV)/bin/ruff check ivr tests benchmarks && $(VENV)/bin/mypy && done_

test: lint
	$(VENV)/bin/ivr sandbox up
	$(VENV)/bin/pytest; status=$$?; $(VENV)/bin/ivr sandbox down; exit $$status

sandbox-down:
	$(VENV)/bin/ivr sandbox down

# The web's message catalogs (ivr/web/locale): collect every message of the pages, scripts and
# handlers, add the new ones to each language's messages.po (translators fill in msgstr), and
# compile the .mo files the package ships. tests/unit/test_catalog.py fails until this is done.
LOCALE_DIR := ivr/web/locale
catalogs: setup
	@$(STEP); step "catalogs: extract, update and compile $(LOCALE_DIR)"; \
	$(VENV)/bin/pybabel -q extract -F babel.cfg -k t -k N_ --no-location --sort-output \
	  --project ivr -o $(LOCALE_DIR)/messages.pot . && \
	$(VENV)/bin/pybabel -q update -i $(LOCALE_DIR)/messages.pot -d $(LOCALE_DIR) --no-fuzzy-matching && \
	$(VENV)/bin/pybabel -q compile -d $(LOCALE_DIR) --statistics && done_
