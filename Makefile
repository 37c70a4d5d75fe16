# Two commands that work on a fresh machine:
#   make run    set up .venv and serve the atlas on http://127.0.0.1:$(PORT)
#   make test   set up .venv (with test tools, Chromium, GDAL) and run the whole suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 5000
HOST ?= 127.0.0.1

.PHONY: run reload test lint check system-deps data bench bench-ogc bench-stats bench-scale bench-gis clean run-deps bench-load bench-million bench-sql-stats bench-sql-tiles bench-sql-items

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# nginx in front (slow clients, /static, gzip, cache) and gunicorn behind it on a unix socket,
# both started and stopped here; config, socket, logs and cache in $(RUN_DIR). See geoapp/serve.py.
# --die-with-parent: if make is killed, the servers stop too (nothing is left listening).
RUN_DIR ?= .run
run: run-deps $(VENV)/.runtime
	$(PY) -m geoapp.serve --host $(HOST) --port $(PORT) --run-dir $(RUN_DIR) --die-with-parent

# New data without a pause: check it, then the running `make run` (same RUN_DIR) starts a second
# gunicorn, switches nginx to it once it has loaded the data and stops the old one.
reload: check
	$(PY) -m geoapp.serve --reload --run-dir $(RUN_DIR)

# Debian packages `make run` needs (root): nginx.
run-deps:
	@if ! command -v nginx >/dev/null && ! test -x /usr/sbin/nginx; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; \
	fi

# Debian packages the browser tests, the GIS read-back tests, the serving tests and the PostGIS
# store tests use (root, as in CI). The tests start their own throwaway PostGIS cluster as the
# postgres user (benchmarks/pgcluster.py).
system-deps: run-deps
	@if ! command -v chromium >/dev/null || ! command -v ogrinfo >/dev/null || ! fc-list | grep -qi 'Noto Sans CJK' \
			|| [ ! -f /usr/share/postgresql/15/extension/postgis.control ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk gdal-bin \
			postgresql postgresql-15-postgis-3 >/dev/null; \
	fi

check: $(VENV)/.runtime
	$(PY) -m geoapp.data check

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

test: system-deps $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m geoapp.data check
	$(PY) -m pytest -q

# Rebuild derived data from its sources (see data/*/SOURCE.md).
data: $(VENV)/.dev
	PYTHONPATH=. $(PY) scripts/build_boundaries.py
	PYTHONPATH=. $(PY) scripts/build_seats.py
	$(PY) scripts/place_points.py data/parks/*.csv data/platforms/*.csv
	PYTHONPATH=. $(PY) scripts/build_belt.py

# Benchmarks print figures (they are not tests). bench-ogc installs pygeoapi into /tmp, nginx and wrk.
bench: $(VENV)/.dev
	PYTHONPATH=. $(PY) benchmarks/bench_map.py

bench-scale: $(VENV)/.dev system-deps
	PYTHONPATH=. $(PY) benchmarks/bench_scale.py

bench-ogc: $(VENV)/.dev
	PYTHONPATH=. $(PY) benchmarks/bench_ogc.py

bench-gis: $(VENV)/.dev
	PYTHONPATH=. $(PY) benchmarks/bench_gis.py

bench-stats: $(VENV)/.dev
	PYTHONPATH=. $(PY) benchmarks/bench_stats.py

# 60 s of wrk at 64 connections over mixed routes against make run's setup: errors, worker memory.
bench-load: $(VENV)/.dev
	PYTHONPATH=. $(PY) benchmarks/bench_load.py

# N synthetic places (default 1,000,000; PLACES=100000 to scale down) in a throwaway PostGIS, the app
# (gunicorn, 2 workers) and tipg (installed into /tmp/tipg-venv, not .venv) on the same table (a view of
# the current version); see docs/performance.md for what it measures.
PLACES ?= 1000000
# Figures, search and the places list of a layer in PostGIS at ROWS synthetic places (default 100000).
ROWS ?= 100000
bench-sql-stats: $(VENV)/.dev system-deps
	PYTHONPATH=. $(PY) benchmarks/bench_sql_stats.py --rows $(ROWS)

# Vector and map tiles of a layer in PostGIS at ROWS synthetic places (default 100000), vs tipg's query shape.
bench-sql-tiles: $(VENV)/.dev system-deps
	PYTHONPATH=. $(PY) benchmarks/bench_sql_tiles.py --places $(ROWS)

# OGC items, CQL2, sortby and downloads of a layer in PostGIS at ROWS synthetic places, with query plans.
bench-sql-items: $(VENV)/.dev system-deps
	PYTHONPATH=. $(PY) benchmarks/bench_sql_items.py --rows $(ROWS)

bench-million: $(VENV)/.dev system-deps
	PYTHONPATH=. $(PY) benchmarks/bench_million.py --places $(PLACES)

clean:
	rm -rf $(VENV) .pytest_cache artifacts
