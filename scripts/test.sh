#!/usr/bin/env bash
# The README's test command (npm test): lint and typecheck every project (Nx), build, then the
# three jest tiers — unit, integration (real Kafka, moto, the ESDB emulator, SQLite), e2e
# (the CLI, the process stack, and the console in Debian's chromium, which scripts/ensure-chromium.sh installs
# when missing). Prints per-tier counts and one closing "N passed, N failed" line. Each tier's temporary files go to a
# directory of its own, removed after a tier that passes (jest.config.js's reporter scripts/support/jest-run-tmp.cjs).
set -uo pipefail
cd "$(dirname "$0")/.."
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false
mkdir -p tmp
status=0

echo "── lint + typecheck (nx run-many)"
npx nx run-many -t lint typecheck --parallel=2 --outputStyle=static || status=1

echo "── build"
npm run -s build || status=1

echo "── browser (Debian's chromium for the console's browser tests)"
browser_ok=1
bash scripts/ensure-chromium.sh || browser_ok=0

passed=0; failed=0; skipped=0
for tier in unit integration e2e; do
  echo "── jest: $tier"
  extra=()
  [ "$tier" != unit ] && extra=(--runInBand)
  npx jest --selectProjects "$tier" --json --outputFile="tmp/jest-$tier.json" "${extra[@]}" "$@" || status=1
  if [ -f "tmp/jest-$tier.json" ]; then
    read -r p f s < <(node -e 'const r=require(process.argv[1]);console.log(r.numPassedTests,r.numFailedTests+r.numRuntimeErrorTestSuites,r.numPendingTests+r.numTodoTests)' "$PWD/tmp/jest-$tier.json")
    echo "tier $tier: $p passed, $f failed, $s skipped"
    passed=$((passed+p)); failed=$((failed+f)); skipped=$((skipped+s))
    if [ "$p" = 0 ] && [ "${CI:-}" = true ]; then echo "tier $tier ran no test"; status=1; fi
    if [ "$s" != 0 ] && [ "${CI:-}" = true ]; then echo "tier $tier skipped $s tests under CI=true"; status=1; fi
    if [ "$tier" = e2e ] && [ "$browser_ok" = 0 ] && [ "${CI:-}" = true ]; then echo "tier e2e: no browser under CI=true"; status=1; fi
  else
    echo "tier $tier: no result file"; status=1
  fi
done
echo
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
