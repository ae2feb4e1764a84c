#!/usr/bin/env bash
# The whole test suite, on a fresh machine too: installs what the tests need (Debian packages), makes sure
# PostgreSQL runs, then runs every test of the workspace against SQLite and PostgreSQL and in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
# The print test rasterises the PDF Chromium prints with poppler.
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-noto-cjk)
# Poppler (pdftoppm, pdftotext, pdffonts): the artwork capture set prints its forms through it, and the invoice
# PDF test reads its text back and rasterises it.
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
# SoftHSM2: the UKey agent's PKCS#11 tests initialise tokens on it (module /usr/lib/softhsm/libsofthsm2.so).
command -v softhsm2-util >/dev/null 2>&1 || need+=(softhsm2)
# 审核预检: OCR of the licence and ID card scans (Tesseract with the simplified-Chinese data).
command -v tesseract >/dev/null 2>&1 || need+=(tesseract-ocr)
dpkg -s tesseract-ocr-chi-sim >/dev/null 2>&1 || need+=(tesseract-ocr-chi-sim)
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# A real S3-protocol server for the object-storage tests: moto's server, from PyPI (installs in seconds; the
# tests fail under CI=true without it).
if ! command -v moto_server >/dev/null 2>&1; then
  echo "installing: moto[server] (PyPI)"
  python3 -m pip install -q 'moto[server]>=5,<6'
  command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
fi
command -v moto_server >/dev/null 2>&1 || { echo "moto_server is not on PATH after installing moto[server]" >&2; exit 1; }

# PostgreSQL: the production path is tested for real; start the local cluster if it is down.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
export SEALDESK_TEST_PG_URL="${SEALDESK_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"

# --no-fail-fast: a failing crate must not hide the others. The last line sums every test binary's result.
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --locked --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;?$/) p += $i; if ($(i+1) ~ /^failed;?$/) f += $i; if ($(i+1) ~ /^ignored;?$/) s += $i } }
     END { printf "summary: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
if [ "$status" -ne 0 ]; then
  grep -E '^error: (test failed|[0-9]+ targets? failed)|^    -p ' "$log" || true
fi
exit "$status"
