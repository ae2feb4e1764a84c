#!/bin/sh
# Measures the at-rest bench beside `openssl speed` (SM4-CTR and SM3 over 1 MiB blocks) in the same run, pinned to
# core 0, OpenSSL before and after so that drift on a shared machine shows. Usage: crates/domain/benches/run.sh
set -e
cd "$(dirname "$0")/../../.."
lscpu | grep -E '^(Model name|CPU\(s\))'
openssl version
uptime
anchor() {
  for alg in sm4-ctr sm3; do
    taskset -c 0 openssl speed -elapsed -seconds 3 -bytes 1048576 -evp "$alg" 2>/dev/null | grep -iE "^$alg"
  done
}
echo "--- before: openssl speed -elapsed (1000s of bytes per second, wall clock)"
anchor
echo "--- cargo bench -p sealdesk-domain --bench at_rest"
taskset -c 0 cargo bench -p sealdesk-domain --bench at_rest -- --noplot 2>&1 | grep -E '^at_rest/|time:|thrpt:' | grep -v '%'
echo "--- after"
anchor
uptime
