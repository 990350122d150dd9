#!/usr/bin/env bash
# The e2e tier's browser tests drive Debian's chromium (/usr/bin/chromium) with playwright-core; Playwright's own browser
# download is not used. Installs the package when it is missing: as root with apt-get, otherwise says what to run.
# Exit 0 when the browser is there afterwards; 1 otherwise (scripts/test.sh then fails the e2e tier under CI=true,
# and outside CI the browser tests are skipped and counted as skipped).
set -uo pipefail
browser="${OPTEX_CHROMIUM:-/usr/bin/chromium}"
[ -x "$browser" ] && exit 0
cd "$(dirname "$0")/.." && mkdir -p tmp # apt's log goes to the project's tmp/, wherever this is run from
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium for the browser tests (apt-get install -y chromium)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >tmp/apt-chromium.log 2>&1 \
    || { apt-get update >>tmp/apt-chromium.log 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >>tmp/apt-chromium.log 2>&1; } \
    || { echo "apt-get install chromium failed; see tmp/apt-chromium.log"; exit 1; }
  [ -x "$browser" ] && exit 0
  echo "chromium installed, but $browser is not there (set OPTEX_CHROMIUM to its path)"; exit 1
fi
echo "no browser at $browser: the console's browser tests need Debian's chromium; run as root: apt-get install -y chromium"
exit 1
