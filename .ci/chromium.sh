#!/usr/bin/env bash
# Install Debian's Chromium and its WebDriver (chromium, chromium-driver) for the browser
# tests of the web console (tests/test_web_browser.py), then print the line that exports
# where they are:
#
#   eval "$(bash .ci/chromium.sh)"      # sets SHOPOPS_CHROMIUM and SHOPOPS_CHROMEDRIVER
#
# Progress goes to stderr; stdout carries only the export line. Where Chromium cannot be had
# (no apt-get, no root, no network) it prints nothing and exits 0: the browser tests then skip
# with a reason (they never silently pass). Idempotent: installed packages are reused.
set -uo pipefail
log() { echo "chromium.sh: $*" >&2; }

find_bin() { for b in "$@"; do command -v "$b" 2>/dev/null && return 0; done; return 1; }

if ! find_bin chromium chromium-browser >/dev/null || ! find_bin chromedriver >/dev/null; then
  if ! command -v apt-get >/dev/null; then log "no apt-get: browser tests will skip"; exit 0; fi
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  log "installing chromium chromium-driver (apt-get)"
  if ! { $SUDO apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive \
         $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >&2; }; then
    log "apt-get install chromium chromium-driver failed: browser tests will skip"; exit 0
  fi
fi

CHROMIUM="$(find_bin chromium chromium-browser)" || { log "chromium not found"; exit 0; }
DRIVER="$(find_bin chromedriver)" || { log "chromedriver not found"; exit 0; }
log "ready: $("$CHROMIUM" --version 2>/dev/null | head -1) with $DRIVER"
echo "export SHOPOPS_CHROMIUM=$CHROMIUM SHOPOPS_CHROMEDRIVER=$DRIVER"
