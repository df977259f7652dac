#!/usr/bin/env bash
# Installs the Debian packages the stack (run) or the tests (test) need, when missing.
# Without root, says how to install them instead.
set -euo pipefail
mode="${1:-run}"
need=()
command -v prometheus >/dev/null || need+=(prometheus)
command -v alertmanager >/dev/null || command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
if [[ "$mode" == "test" ]]; then
  command -v docker-compose >/dev/null || need+=(docker-compose)
  command -v wrk >/dev/null || need+=(wrk)  # the benchmark harness's smoke test
  # The web page's browser tests drive it through Playwright (never `playwright install`).
  command -v chromium >/dev/null || need+=(chromium)
fi
if [[ "$mode" == "bench" ]]; then
  need=()
  command -v wrk >/dev/null || need+=(wrk)
fi
if [[ ${#need[@]} -eq 0 ]]; then
  exit 0
fi
if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "installing ${need[*]} with apt-get" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "missing: ${need[*]}. Install them with: sudo apt-get install ${need[*]}" >&2
  echo "(on macOS: brew install prometheus alertmanager). Continuing without them." >&2
fi
