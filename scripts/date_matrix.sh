#!/usr/bin/env bash
# The statistical tests (planted truth, model training, SPC/QA, inventory replays and policies, workflow
# simulation and allocation) once per demo end date: the demo data end "yesterday", so these must hold on
# any day. Each date seeds its own data set ending that day and runs with the clock on the day after
# (TEST_DEMO_END_DATE, see conftest.py), one date after another, on SQLite and local memory, each bounded.
#
#   scripts/date_matrix.sh                      # the dozen dates below
#   scripts/date_matrix.sh 2027-02-28 2028-02-29 # chosen dates
#   DATE_MATRIX_TESTS="inventory/tests/test_demo_truth.py" scripts/date_matrix.sh   # another subset
#   DATE_MATRIX_SHUFFLE=12345 scripts/date_matrix.sh   # also in shuffled order (pytest-randomly, that seed)
#
# Logs: var/date-matrix/<date>.log; the last lines give one result per date; exit 1 when any date failed.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
DATES=("$@")
if [ ${#DATES[@]} -eq 0 ]; then
  DATES=(
    2026-12-25  # Christmas Day (a bank holiday; the stores are shut)
    2027-01-01  # New Year's Day
    2027-01-31  # a month end on a Sunday
    2027-02-28  # February's end in a common year, a Sunday
    2027-03-28  # Easter Sunday, and the night the clocks go forward (BST starts)
    2027-04-30  # a month end on a Friday
    2027-05-31  # Spring bank holiday, a Monday and a month end
    2027-06-13  # an ordinary Sunday
    2027-08-30  # Summer bank holiday
    2027-10-31  # the clocks go back (BST ends), a Sunday and a month end
    2027-12-31  # a year end
    2028-02-29  # a leap day
  )
fi
TESTS=${DATE_MATRIX_TESTS:-"predictive/tests/test_planted_truth.py predictive/tests/test_training.py
  inventory/tests/test_demo_truth.py inventory/tests/test_api.py inventory/tests/test_replay_method.py
  inventory/tests/test_today_method.py workflow/tests/test_quality.py workflow/tests/test_allocation.py
  workflow/tests/test_process.py mlanalytics/core/tests/test_generator.py mlanalytics/core/tests/test_services.py
  --deselect mlanalytics/core/tests/test_generator.py::test_seed_demo_command_writes_identical_databases_for_the_same_seed
  --deselect mlanalytics/core/tests/test_generator.py::test_an_interrupted_seed_is_done_again_by_the_next_seed_demo"}
# (The two seed_demo commands deselected seed their own data with a fixed end date: 5 minutes and no news.)
ORDER=()
if [ -n "${DATE_MATRIX_SHUFFLE:-}" ]; then ORDER=(-p randomly "--randomly-seed=$DATE_MATRIX_SHUFFLE"); fi
LOGS=var/date-matrix
mkdir -p "$LOGS"
results=()
failed=0
for day in "${DATES[@]}"; do
  log="$LOGS/$day${DATE_MATRIX_SHUFFLE:+-shuffled-$DATE_MATRIX_SHUFFLE}.log"
  data="${TMPDIR:-/tmp}/mla-date-matrix-$$-$day"
  # shellcheck disable=SC2086  # TESTS is a list of paths
  env -u DATABASE_URL -u REDIS_URL TEST_DEMO_END_DATE="$day" CACHE_KEY_PREFIX="mla-dm-$$" DATA_DIR="$data" \
    timeout "${DATE_MATRIX_TIMEOUT:-1800}" nice -n "${DATE_MATRIX_NICE:-10}" \
    $PY -m pytest -n 0 -v --durations=10 "${ORDER[@]}" $TESTS >"$log" 2>&1
  status=$?
  rm -rf "$data"
  summary=$(grep -E "(passed|failed|error)" "$log" | tail -1)
  [ $status -eq 124 ] && summary="timed out after ${DATE_MATRIX_TIMEOUT:-1800} s; $summary"
  [ $status -ne 0 ] && failed=1
  results+=("$day: ${summary:-exit $status} ($log)")
  echo "${results[-1]}"
done
echo "--- date matrix${DATE_MATRIX_SHUFFLE:+ (shuffled, seed $DATE_MATRIX_SHUFFLE)}"
printf '%s\n' "${results[@]}"
exit $failed
