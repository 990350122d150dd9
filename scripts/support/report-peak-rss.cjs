// Preload (node --require) that writes the process's peak resident set size, in bytes, to the file named by
// OPTEX_PEAK_RSS_FILE when the process exits. Used to measure the real CLI from outside (test/intake.e2e.spec.ts,
// scripts/fuzz.ts --rss) without changing it.
const { writeFileSync } = require('node:fs');
const file = process.env.OPTEX_PEAK_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS * 1024)));
