#!/bin/sh
# Measures the seal benchmark beside `openssl speed sm2` in the same run, all pinned to one core (core 0), with
# OpenSSL measured before and after so that drift on a shared machine shows. Usage: crates/ses/benches/run.sh
#
# `openssl speed` divides by CPU user time unless given `-elapsed`; criterion measures wall-clock time. On a core
# shared with other work only the `-elapsed` figures are comparable, so both are printed.
set -e
cd "$(dirname "$0")/../../.."
# Uses the workspace target directory (or CARGO_TARGET_DIR when the caller sets one).
lscpu | grep -E '^(Model name|CPU\(s\))'
openssl version
uptime
sm2() { taskset -c 0 openssl speed "$@" -seconds 3 sm2 2>/dev/null | grep -E 'CurveSM2'; }
echo "--- before: openssl speed -seconds 3 sm2 (CPU time), then with -elapsed (wall clock)"
echo "                              sign    verify    sign/s verify/s"
sm2
sm2 -elapsed
echo "--- cargo bench -p sealdesk-ses --bench seal"
taskset -c 0 cargo bench -p sealdesk-ses --bench seal -- --noplot 2>&1 | grep -E '^seal/|time:|thrpt:' | grep -v '%'
echo "--- after: openssl speed -elapsed, then CPU time"
sm2 -elapsed
sm2
