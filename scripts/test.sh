#!/usr/bin/env bash
# The whole test suite. Uses PostgreSQL and Redis when they answer (required with REQUIRE_SERVICES=1),
# otherwise SQLite and local memory. TEST_BACKEND=embedded forces SQLite/local memory.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PG_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
REDIS=${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}

if [ "${TEST_BACKEND:-auto}" = "embedded" ]; then
  found=""
else
  found=$($PY scripts/probe_services.py "$PG_URL" "$REDIS")
fi
if [ "${REQUIRE_SERVICES:-0}" = "1" ]; then
  for service in postgres redis; do
    case " $found " in *" $service "*) ;; *) echo "REQUIRE_SERVICES=1 but $service is unreachable" >&2; exit 2;; esac
  done
fi
unset DATABASE_URL REDIS_URL
case " $found " in *" postgres "*) export DATABASE_URL=$PG_URL;; esac
case " $found " in *" redis "*) export REDIS_URL=$REDIS;; esac
export CACHE_KEY_PREFIX="mla-test-$$"
export DATA_DIR="${TMPDIR:-/tmp}/mla-test-$$"
echo "test back ends: database=${DATABASE_URL:-sqlite (memory)} cache/channels=${REDIS_URL:-local memory}"

# Browser tests drive Debian's Chromium; install it when missing (never a downloaded browser).
if [ "${SKIP_BROWSER_TESTS:-0}" != "1" ] && [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)) \
      || echo "warning: could not install chromium; browser tests will be skipped" >&2
  fi
fi

# Fixed order by default (pytest.ini blocks pytest-randomly) so a red run is the change's, not the draw's.
# TEST_SHUFFLE=1 shuffles (a fresh seed, printed as "Using --randomly-seed=N"); TEST_SHUFFLE=N replays seed N.
order=()
case "${TEST_SHUFFLE:-0}" in
  0|"") ;;
  1) order=(-p randomly) ;;
  *) order=(-p randomly "--randomly-seed=$TEST_SHUFFLE") ;;
esac

status=0
$PY -m pytest -n "${TEST_WORKERS:-2}" --dist loadgroup "${order[@]}" "$@" || status=$?
rm -rf "$DATA_DIR"
exit $status
