#!/bin/sh
# Measures the seal benchmark beside `openssl speed sm2` in the same run, both pinned to one core (core 0), with
# OpenSSL measured before and after so that drift on a shared machine shows. Usage: crates/ses/benches/run.sh
set -e
cd "$(dirname "$0")/../../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target-ses}"
lscpu | grep -E '^(Model name|CPU\(s\))'
openssl version
echo "--- openssl speed -seconds 3 sm2 (before)"
taskset -c 0 openssl speed -seconds 3 sm2 2>/dev/null | grep -E 'sign/s|SM2'
echo "--- cargo bench -p sealdesk-ses --bench seal"
taskset -c 0 cargo bench -p sealdesk-ses --bench seal -- --noplot 2>&1 | grep -E '^seal/|time:|thrpt:'
echo "--- openssl speed -seconds 3 sm2 (after)"
taskset -c 0 openssl speed -seconds 3 sm2 2>/dev/null | grep -E 'sign/s|SM2'
