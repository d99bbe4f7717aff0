# izuma.device_management: the two commands a newcomer needs are `make demo` and `make test`; `make help` lists the rest.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# ansible-core 2.19 runs on Python 3.11, 2.21 on Python 3.12 (pyenv installs both side by side).
PY311 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.11*/bin/python3.11) $(shell command -v python3.11))
PY312 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) $(shell command -v python3.12))
BUILD := build
COLLECTIONS := $(abspath $(BUILD)/collections)
TREE := $(COLLECTIONS)/ansible_collections/izuma/device_management
PORT ?= 0
ADMIN_KEY ?=
TLS ?=

.PHONY: help demo emulator test clean

help:
	@echo "make demo          run the main job against a local Izuma API emulator"
	@echo "make emulator      start the local Izuma API emulator in the foreground (PORT=, ADMIN_KEY=, TLS=1)"
	@echo "make test          run every suite below, as CI does:"
	@echo "  make sanity        ansible-test sanity on ansible-core 2.19 and 2.21 (sanity-2.19, sanity-2.21)"
	@echo "  make units         pytest of the core, on ansible-core 2.19 and 2.21"
	@echo "  make integration   ansible-test integration against the emulator, on ansible-core 2.19 and 2.21"
	@echo "  make lint          ansible-lint (production profile) on the role, the playbooks and the molecule scenario"
	@echo "  make molecule      the jwt_rotation role's molecule scenario (converge, idempotence, verify)"
	@echo "  make ee-test       ansible-builder create: an execution environment gets the runtime requirements"
	@echo "  make runner-test   the rotation playbook through ansible-runner with the AWX credential type"
	@echo "  make kill-test     the role killed at every phase; the next run finishes the rotation"
	@echo "  make role-test     the role in check mode and in serial batches; the audit playbook; revoke now (jwt_revoke.yml)"
	@echo "  make fleet-test    module runs per host counted; three concurrent --limit slices rotate once; izuma_jwt over ssh;"
	@echo "                    its write through the connection; the API modules in the controller process against their modules"
	@echo "  make contract-test the emulator against the public Pelion IAM specification (responses, property-based run)"
	@echo "  make pkcs11-test   the PKCS#11 key backend against SoftHSM2 and tpm2-pkcs11 on swtpm (PKCS11_IMPLEMENTATIONS=tpm2,"
	@echo "                     or =library with IZUMA_PKCS11_LIBRARY, _TOKEN, _PIN: tests/README.md; PKCS11_ARGS=\"-k ...\")"
	@echo "  make release-test  the 1.0.0 tarball: its files, galaxy-importer, antsibull-docs and antsibull-changelog lint"
	@echo "  make docs-test     the command blocks of README.md, CONTRIBUTING.md, docs/awx.md and docs/hsm.md, in a fresh copy"
	@echo "  make install-test  the tarball installed into a project: the quick start and the emulator guide as written (2.19, 2.21)"
	@echo "  make compat-test   the tarball on ansible-core 2.17 to 2.21 with the newest and the lowest declared cryptography,"
	@echo "                     PyJWT and requests: a first playbook and the role, and no warning the collection causes"
	@echo "  make site-test     make docs, then headless Chromium opens every plugin page and guide"
	@echo "make hsm-demo      a verification key inside a SoftHSM2 token, end to end (docs/hsm.md)"
	@echo "make tarball       the collection as Galaxy gets it (galaxy.yml's build_ignore applied), under build/release"
	@echo "make docs          the documentation site (antsibull-docs and Sphinx), HTML under build/docs"
	@echo "make changelog     regenerate the 1.0.0 release (CHANGELOG.md, changelogs/changelog.yaml) with new fragments"
	@echo "make bench         not in make test: the role against plain Ansible, interleaved; the lookup and a converged key task"
	@echo "                   against their plain Ansible floor; fleets of 20 to 1,000 hosts (BENCH_ARGS=\"--sections lookup,task\")"
	@echo "make pkcs11-benchmark    not in make test: per-token cost of PKCS#11 signing, on SoftHSM2 and tpm2-pkcs11"
	@echo "make venvs         the virtual environments of sanity, units and integration (each other suite makes its own:"
	@echo "                   tools-venv, release-venv, contract-venv, pkcs11-venv, bench-venv)"
	@echo "make clean         remove build/ and the virtual environments"

# Every suite, as CI runs them (tests/README.md says which suite a test belongs in).
test: sanity units integration lint molecule ee-test runner-test kill-test role-test fleet-test contract-test pkcs11-test release-test docs-test install-test compat-test site-test
	@echo "make test: all suites passed"

clean:
	rm -rf $(BUILD) .venv

# ----------------------------------------------------------------------------------------------------------------------
# Virtual environments: one per set of pinned requirements (requirements/), made again when that file changes.
VENV_219 := .venv/2.19
VENV_221 := .venv/2.21
VENV_TOOLS := .venv/tools-2.19
VENV_BENCH := .venv/bench
VENV_REL := .venv/release
VENV_CONTRACT := .venv/contract
VENV_PKCS11 := .venv/pkcs11

.PHONY: venvs tools-venv bench-venv release-venv contract-venv pkcs11-venv

# A missing interpreter gets a message that names it and how to install it, instead of a shell error.
need_python = @test -n "$(1)" || { echo "make: Python $(2) is missing (this target needs python$(2) on PATH or under ~/.pyenv)." \
	"Install it with 'pyenv install $(2)' or, on Debian or Ubuntu, 'apt-get install python$(2) python$(2)-venv'." >&2; exit 1; }

# The recipe of every virtual environment, for a rule <venv>/.installed: <requirements file>; $(1) is the Python to make
# it with, $(2) that Python's version.
define make_venv
$(call need_python,$(1),$(2))
@echo "make: creating $(@D) (Python $(2), $<): a minute or two, once"
@rm -rf $(@D)
@$(1) -m venv $(@D)
@$(@D)/bin/pip install --quiet --disable-pip-version-check -r $<
@touch $@
endef

$(VENV_219)/.installed: requirements/test-2.19.txt
	$(call make_venv,$(PY311),3.11)

$(VENV_221)/.installed: requirements/test-2.21.txt
	$(call make_venv,$(PY312),3.12)

# ansible-lint, molecule, ansible-runner and ansible-builder, with the same ansible-core as test-2.19.txt.
$(VENV_TOOLS)/.installed: requirements/tools-2.19.txt
	$(call make_venv,$(PY311),3.11)

# matplotlib, for the benchmarks' plot.
$(VENV_BENCH)/.installed: requirements/bench.txt
	$(call make_venv,$(PY311),3.11)

# galaxy-importer, antsibull-docs, antsibull-changelog, Sphinx.
$(VENV_REL)/.installed: requirements/release.txt
	$(call make_venv,$(PY311),3.11)

# The emulator's contract tests: the specification's validator and schemathesis.
$(VENV_CONTRACT)/.installed: requirements/contract.txt
	$(call make_venv,$(PY311),3.11)

# python-pkcs11.
$(VENV_PKCS11)/.installed: requirements/pkcs11.txt
	$(call make_venv,$(PY311),3.11)

venvs: $(VENV_219)/.installed $(VENV_221)/.installed
tools-venv: $(VENV_TOOLS)/.installed
bench-venv: $(VENV_BENCH)/.installed
release-venv: $(VENV_REL)/.installed
contract-venv: $(VENV_CONTRACT)/.installed
pkcs11-venv: $(VENV_PKCS11)/.installed

# ----------------------------------------------------------------------------------------------------------------------
# The demo and the emulator.

demo: $(VENV_219)/.installed
	@PATH="$(abspath $(VENV_219))/bin:$$PATH" hack/demo.sh

emulator: $(VENV_219)/.installed
	@PYTHONPATH=tests/emulator $(VENV_219)/bin/python -m izuma_emulator --port $(PORT) \
		$(if $(ADMIN_KEY),--admin-key $(ADMIN_KEY)) $(if $(TLS),--tls)

# ----------------------------------------------------------------------------------------------------------------------
# Sanity, unit and integration: ansible-test and pytest on ansible-core 2.19 and 2.21, on the collection tree under
# build/collections.

.PHONY: tree pythons sanity sanity-2.19 sanity-2.21 units integration

tree:
	@hack/build-tree.sh $(COLLECTIONS) >/dev/null

# Every Python that pyenv installed, on PATH by its versioned name, so that ansible-test's compile and
# import tests cover each target Python it supports and finds (3.8 to 3.13 on this machine).
PYTHONS := $(abspath $(BUILD)/pythons)
pythons:
	@mkdir -p $(PYTHONS)
	@for python in $(wildcard $(HOME)/.pyenv/versions/3.*/bin/python3.[0-9] $(HOME)/.pyenv/versions/3.*/bin/python3.[0-9][0-9]); do \
		ln -sf "$$python" "$(PYTHONS)/$$(basename "$$python")"; done

sanity: sanity-2.19 sanity-2.21

sanity-2.19: $(VENV_219)/.installed tree pythons
	hack/install-ansible-test-bootstrap.sh $(VENV_219)/bin/python
	cd $(TREE) && PATH="$(PYTHONS):$$PATH" $(abspath $(VENV_219))/bin/ansible-test sanity --venv --color no

sanity-2.21: $(VENV_221)/.installed tree pythons
	hack/install-ansible-test-bootstrap.sh $(VENV_221)/bin/python
	cd $(TREE) && PATH="$(PYTHONS):$$PATH" $(abspath $(VENV_221))/bin/ansible-test sanity --venv --color no

units: venvs tree
	cd $(TREE) && PYTHONPATH=$(COLLECTIONS):tests/emulator $(abspath $(VENV_219))/bin/python -m pytest -q -p no:cacheprovider tests/unit tests/emulator/tests
	cd $(TREE) && PYTHONPATH=$(COLLECTIONS):tests/emulator $(abspath $(VENV_221))/bin/python -m pytest -q -p no:cacheprovider tests/unit

integration: venvs tree
	cd $(TREE) && PATH="$(abspath $(VENV_219))/bin:$$PATH" ansible-test integration --local --python 3.11 --color no
	cd $(TREE) && PATH="$(abspath $(VENV_221))/bin:$$PATH" ansible-test integration --local --python 3.12 --color no

# ----------------------------------------------------------------------------------------------------------------------
# The role and the fleet: ansible-lint, molecule, ansible-runner and ansible-builder (the tools environment), on a
# collection tree of their own under build/rotation so that they never touch build/collections.
ROT_COLLECTIONS := $(abspath $(BUILD)/rotation/collections)
ROT_TREE := $(ROT_COLLECTIONS)/ansible_collections/izuma/device_management
TOOLS_ENV := PATH="$(abspath $(VENV_TOOLS))/bin:$$PATH" ANSIBLE_COLLECTIONS_PATH="$(ROT_COLLECTIONS)"
ROT_PYTEST := $(abspath $(VENV_TOOLS))/bin/python -m pytest -q -p no:cacheprovider

.PHONY: rotation-tree lint molecule ee-test runner-test kill-test role-test fleet-test

rotation-tree:
	@hack/build-tree.sh $(ROT_COLLECTIONS) >/dev/null

# ansible-lint, production profile, on the role, the playbooks and the molecule scenario.
# A home folder of its own: ansible-lint also resolves modules from ~/.ansible/collections, where an older installed copy
# of this collection would hide the one under test.
lint: tools-venv rotation-tree
	rm -rf $(BUILD)/rotation/lint-home && mkdir -p $(BUILD)/rotation/lint-home
	cd $(ROT_TREE) && $(TOOLS_ENV) HOME="$(abspath $(BUILD))/rotation/lint-home" ansible-lint roles/ playbooks/ extensions/

# The jwt_rotation role's molecule scenario: converge, idempotence and verify against the emulator, on local hosts.
# Run as its molecule.yml tells users: from the collection installed out of the tarball into a project folder (the
# scenario ships), in its root. Its state (emulator address, keys, tokens) goes to a fresh directory of its own, so no
# earlier run can leave it stale.
MOLECULE_PROJECT := $(abspath $(BUILD))/rotation/molecule-project
molecule: tools-venv tarball
	rm -rf $(BUILD)/rotation/molecule $(MOLECULE_PROJECT)
	ANSIBLE_COLLECTIONS_PATH=$(MOLECULE_PROJECT)/collections $(VENV_TOOLS)/bin/ansible-galaxy collection install --force -p $(MOLECULE_PROJECT)/collections $(TARBALL) >/dev/null
	cd $(MOLECULE_PROJECT)/collections/ansible_collections/izuma/device_management && PATH="$(abspath $(VENV_TOOLS))/bin:$$PATH" \
		MOLECULE_EPHEMERAL_DIRECTORY="$(abspath $(BUILD))/rotation/molecule" MOLECULE_GLOB='extensions/molecule/*/molecule.yml' \
		molecule test -s jwt_rotation

# ansible-builder create on the collection; the context's introspection finds cryptography, PyJWT and requests.
ee-test: tools-venv rotation-tree
	cd $(ROT_TREE) && $(TOOLS_ENV) $(ROT_PYTEST) tests/rotation/test_builder.py

# The rotation playbook through ansible-runner, with the AWX credential type's injectors.
runner-test: tools-venv rotation-tree
	cd $(ROT_TREE) && $(TOOLS_ENV) $(ROT_PYTEST) tests/rotation/test_runner.py

# The role killed at every phase; the next run finishes the rotation.
kill-test: tools-venv rotation-tree
	cd $(ROT_TREE) && $(TOOLS_ENV) $(ROT_PYTEST) tests/rotation/test_kill.py

# The role in check mode (writes nothing) and in serial batches (one rotation, retirement after the last batch);
# the audit playbook; revoke now (jwt_revoke.yml: refused without its variables, a full run, an unreachable host,
# killed at four points and run again).
role-test: tools-venv rotation-tree
	cd $(ROT_TREE) && $(TOOLS_ENV) $(ROT_PYTEST) tests/rotation/test_modes.py tests/rotation/test_revoke.py

# What the role costs per host, counted (module executions, per-host tasks, API requests), and the rotation split
# into three concurrent --limit slices of one inventory (AWX job slicing): one rotation, no host ever refused; and
# izuma_jwt over the ssh connection (an sshd of the test's own on 127.0.0.1; hack/install-sshd.sh installs it), and
# its write through the connection killed, under umask 000, read concurrently and with become; and the API modules in
# the controller process against their modules (another Python, become with su).
fleet-test: tools-venv rotation-tree
	@hack/install-sshd.sh >/dev/null
	cd $(ROT_TREE) && $(TOOLS_ENV) $(ROT_PYTEST) tests/rotation/test_counts.py tests/rotation/test_slices.py tests/rotation/test_ssh.py \
		tests/rotation/test_shell_write.py tests/rotation/test_in_controller.py

# ----------------------------------------------------------------------------------------------------------------------
# The emulator held against the public Pelion IAM specification (tests/emulator/README.md): its own test suite with
# every API response validated against tests/emulator/spec (contract_recorder), the validator's own tests, and a
# bounded property-based run (schemathesis, fixed seed, small budget) against an emulator on 127.0.0.1.

.PHONY: contract-test

contract-test: contract-venv
	HYPOTHESIS_STORAGE_DIRECTORY=$(BUILD)/hypothesis PYTHONPATH=tests/emulator:tests/emulator/contract \
		$(VENV_CONTRACT)/bin/python -m pytest -q -p no:cacheprovider -p contract_recorder tests/emulator/tests tests/emulator/contract

# ----------------------------------------------------------------------------------------------------------------------
# PKCS#11: the key backend with python-pkcs11 against real tokens of each implementation (tests/pkcs11/implementations.py):
# SoftHSM2, and tpm2-pkcs11 on a software TPM (swtpm, with tpm2-abrmd on a D-Bus session bus of its own); the
# prerequisites softhsm and tpm2 install the Debian packages where they are missing (hack/install-softhsm.sh,
# hack/install-tpm2.sh). The tests start the daemons on free ports and initialise the tokens, under
# build/pkcs11/tokens/<implementation>, and stop them at the end. PKCS11_IMPLEMENTATIONS=tpm2 (or softhsm2, or library
# with IZUMA_PKCS11_LIBRARY, IZUMA_PKCS11_TOKEN and IZUMA_PKCS11_PIN: tests/README.md) selects what runs; PKCS11_ARGS
# passes pytest options. The run's temporary files go to build/pkcs11/tmp, which the tests scan for private key
# material at the end.
PKCS11_DIR := $(abspath $(BUILD)/pkcs11/tokens)
PKCS11_COLLECTIONS := $(abspath $(BUILD)/pkcs11/collections)
PKCS11_TREE := $(PKCS11_COLLECTIONS)/ansible_collections/izuma/device_management
PKCS11_IMPLEMENTATIONS ?= $(IZUMA_PKCS11_IMPLEMENTATIONS)
PKCS11_ARGS ?=
comma := ,
# The implementations the run selects (as tests/pkcs11/conftest.py chooses them), and so the packages it needs.
PKCS11_SELECTED := $(or $(subst $(comma), ,$(PKCS11_IMPLEMENTATIONS)),$(if $(IZUMA_PKCS11_LIBRARY),library,softhsm2 tpm2))
PKCS11_PACKAGES := $(filter softhsm tpm2,$(PKCS11_SELECTED:softhsm2=softhsm))

.PHONY: softhsm tpm2 pkcs11-test hsm-demo

softhsm:
	@hack/install-softhsm.sh >/dev/null

tpm2:
	@hack/install-tpm2.sh >/dev/null

pkcs11-test: pkcs11-venv $(PKCS11_PACKAGES)
	@hack/build-tree.sh $(PKCS11_COLLECTIONS) >/dev/null
	rm -rf $(PKCS11_DIR) $(BUILD)/pkcs11/tmp
	mkdir -p $(BUILD)/pkcs11/tmp
	cd $(PKCS11_TREE) && IZUMA_PKCS11_DIR=$(PKCS11_DIR) IZUMA_PKCS11_IMPLEMENTATIONS=$(PKCS11_IMPLEMENTATIONS) \
		TMPDIR=$(abspath $(BUILD)/pkcs11/tmp) PYTHONPATH=$(PKCS11_COLLECTIONS):tests/emulator \
		$(abspath $(VENV_PKCS11))/bin/python -m pytest -q -p no:cacheprovider tests/pkcs11 $(PKCS11_ARGS)

# docs/hsm.md's quick start: playbooks/hsm.yml against SoftHSM2 and the emulator (hack/hsm-demo.sh), in build/hsm-demo.
hsm-demo: pkcs11-venv softhsm
	@PATH="$(abspath $(VENV_PKCS11))/bin:$$PATH" hack/hsm-demo.sh

# ----------------------------------------------------------------------------------------------------------------------
# Release and docs: the tarball users get, checked by galaxy-importer, antsibull-docs and antsibull-changelog (the
# release environment); the documentation site; and the documentation as a newcomer runs it.
VERSION := $(shell sed -n 's/^version: *//p' galaxy.yml)
RELEASE := $(abspath $(BUILD)/release)
TARBALL := $(RELEASE)/izuma-device_management-$(VERSION).tar.gz
REL_ENV := PATH="$(abspath $(VENV_REL))/bin:$$PATH" IZUMA_TARBALL="$(TARBALL)"
REL_PYTEST := $(abspath $(VENV_REL))/bin/python -m pytest -q -p no:cacheprovider
DOCS := $(abspath $(BUILD)/docs)

.PHONY: tarball changelog release-test docs-test install-test compat-test docs site-test chromium

# The collection as Galaxy gets it: ansible-galaxy collection build, galaxy.yml's build_ignore applied.
tarball: release-venv
	@rm -rf $(RELEASE) && mkdir -p $(RELEASE)
	@$(VENV_REL)/bin/ansible-galaxy collection build --force --output-path $(RELEASE) . >/dev/null
	@echo $(TARBALL)

# Regenerate the $(VERSION) release from every fragment in changelogs/fragments (kept after the release) and the
# plugin list from the plugins as they are now: CHANGELOG.md and changelogs/changelog.yaml.
changelog: release-venv
	@$(REL_ENV) hack/changelog.sh

# The tarball's file list; galaxy-importer (no containers, no ansible-test; its ansible-lint on): no error, no warning;
# antsibull-docs lint-collection-docs --plugin-docs; antsibull-changelog lint; one version everywhere.
release-test: tarball
	$(REL_ENV) $(REL_PYTEST) tests/release

# The command blocks of README.md and docs/quickstart.md (and docs/emulator.md), in a fresh copy of the repository,
# `make demo` first as the quick start says.
docs-test: release-venv
	$(REL_ENV) $(REL_PYTEST) tests/docs/test_commands.py

# The tarball installed with ansible-galaxy into a separate project: docs/quickstart.md and docs/emulator.md followed as
# written (every block, in order), on 2.19 and on 2.21.
install-test: venvs tarball
	$(REL_ENV) VENV_219="$(abspath $(VENV_219))" VENV_221="$(abspath $(VENV_221))" $(REL_PYTEST) tests/docs/test_installed.py

# Every ansible-core release the collection claims (meta/runtime.yml), each on its Python (2.20 and later need 3.12),
# with the runtime libraries of requirements.txt at both ends of their declared range: "newest" is what the package
# index serves at the time of the run (pip install --upgrade, no pins), "lowest" the declared floors, exactly.
# COMPAT_RUNS picks the pairs, all ten by default (make compat-test COMPAT_RUNS="2.17/lowest 2.21/newest"); each
# has its virtual environment .venv/compat-<core>-<end> (hack/compat-venv.sh: made one at a time, with pip's cache,
# again when the core, the Python or requirements.txt changes). The tarball is installed into a fresh project folder
# per pair; tests/compat says what runs there.
COMPAT_CORES := 2.17.14/3.11 2.18.19/3.11 2.19.15/3.11 2.20.10/3.12 2.21.6/3.12
COMPAT_RUNS ?= $(foreach core,2.17 2.18 2.19 2.20 2.21,$(core)/newest $(core)/lowest)

compat-test: tarball
	$(call need_python,$(PY311),3.11)
	$(call need_python,$(PY312),3.12)
	@runs=""; for run in $(COMPAT_RUNS); do \
		minor=$${run%/*}; deps=$${run#*/}; \
		core=$$(tr ' ' '\n' <<<"$(COMPAT_CORES)" | grep "^$$minor\." | head -1); \
		test -n "$$core" || { echo "make: ansible-core $$minor is not in COMPAT_CORES ($(COMPAT_CORES))" >&2; exit 2; }; \
		python=$$(test "$${core#*/}" = 3.12 && echo "$(PY312)" || echo "$(PY311)"); \
		hack/compat-venv.sh ".venv/compat-$$minor-$$deps" "$$python" "$${core%/*}" "$$deps"; \
		runs="$$runs $$minor:$$deps:$(abspath .venv)/compat-$$minor-$$deps"; \
	done; \
	$(REL_ENV) IZUMA_COMPAT="$$runs" $(REL_PYTEST) --durations=0 tests/compat

# The documentation site: antsibull-docs sphinx-init and collection (from the tarball, installed under build/docs-src),
# then Sphinx. Warnings are errors, but for those of intersphinx, which cannot reach docs.ansible.com offline.
docs: tarball
	@hack/build-docs.sh "$(abspath $(VENV_REL))" "$(TARBALL)" "$(abspath $(BUILD))/docs-src" "$(DOCS)"

# Headless Chromium (Debian's package, installed here when missing) opens the site: every plugin page and guide.
chromium:
	@command -v chromium >/dev/null || { test "$$(id -u)" = 0 || { echo "make: chromium is missing: apt-get install chromium (as root)" >&2; exit 1; }; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

site-test: docs chromium
	$(REL_ENV) IZUMA_DOCS="$(DOCS)" $(REL_PYTEST) tests/docs/test_site.py

# ----------------------------------------------------------------------------------------------------------------------
# Benchmarks, none of them part of `make test`.

.PHONY: bench pkcs11-benchmark

# The role against the same work in plain Ansible (interleaved, medians and ranges), the converged token check against
# a bare stat, the izuma_jwt lookup in a template against the env lookup plus PyJWT, a converged izuma_verification_key
# task against a bare uri GET, and fleet sizes of 20, 100 and 1,000 hosts, with a plot (benchmarks/results/fleet-size.png).
# Its own pinned environment (requirements/bench.txt: matplotlib) and tree. BENCH_ARGS="--pairs 5 --sizes 20,100" or
# BENCH_ARGS="--sections lookup,task --pairs 7" changes what it runs (python benchmarks/bench.py --help).
BENCH_COLLECTIONS := $(abspath $(BUILD)/bench/collections)
BENCH_TREE := $(BENCH_COLLECTIONS)/ansible_collections/izuma/device_management
BENCH_ARGS ?=

bench: bench-venv
	@hack/build-tree.sh $(BENCH_COLLECTIONS) >/dev/null
	cd $(BENCH_TREE) && PATH="$(abspath $(VENV_BENCH))/bin:$$PATH" ANSIBLE_COLLECTIONS_PATH="$(BENCH_COLLECTIONS)" \
		$(abspath $(VENV_BENCH))/bin/python benchmarks/bench.py $(BENCH_ARGS)
	mkdir -p benchmarks/results && cp $(BENCH_TREE)/benchmarks/results/* benchmarks/results/

# Per-token cost of PKCS#11 signing against a PEM key and against plain python-pkcs11, on each implementation
# (PKCS11_IMPLEMENTATIONS, as for pkcs11-test; PKCS11_BENCH_ARGS="--rounds 9 --tokens 300").
PKCS11_BENCH_ARGS ?=

pkcs11-benchmark: pkcs11-venv $(PKCS11_PACKAGES)
	@hack/build-tree.sh $(PKCS11_COLLECTIONS) >/dev/null
	rm -rf $(abspath $(BUILD))/pkcs11-bench
	cd $(PKCS11_TREE) && IZUMA_PKCS11_DIR=$(abspath $(BUILD))/pkcs11-bench IZUMA_PKCS11_IMPLEMENTATIONS=$(PKCS11_IMPLEMENTATIONS) \
		PYTHONPATH=$(PKCS11_COLLECTIONS) $(abspath $(VENV_PKCS11))/bin/python benchmarks/pkcs11_cost.py $(PKCS11_BENCH_ARGS)
