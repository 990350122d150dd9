// The API and the console on the embedded default, in one command:
//
//   npm run -s console [-- --port 8080]
//
// Prepares the demo store as `npm start` does when it is not there yet (.optex/demo/events.db: the 25 example
// recommendations, 15 left waiting for approval), makes a fresh static API token for a demo principal with the roles
// reader, approver and operator (the examples' policy has no roster: any authenticated approver decides), writes its
// hash to .optex/demo/auth.json (mode 600), prints the token once and runs `optex api` on 127.0.0.1 until Ctrl-C.
// Approved work moves on with `npm run -s optex -- resume --store sqlite:.optex/demo/events.db --cloud simulated:examples/fleet.json`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { newApiToken } from '@optex/api';

const ROOT = resolve(__dirname, '../..'); // from dist/scripts
const CLI = join(ROOT, 'dist/apps/optex/src/main.js');
const DEMO = join(ROOT, '.optex/demo');
const STORE = 'sqlite:.optex/demo/events.db';

function main(): void {
  const argv = process.argv.slice(2);
  const port = argv[0] === '--port' && argv[1] ? argv[1] : argv.length === 0 ? '8080' : undefined;
  if (port === undefined) {
    console.error('usage: npm run -s console [-- --port N]');
    process.exitCode = 2;
    return;
  }
  if (!existsSync(join(DEMO, 'events.db'))) {
    console.error('preparing the demo store (.optex/demo/events.db) from examples/recommendations.json …');
    const run = spawnSync(process.execPath, [CLI, 'run', 'examples/recommendations.json', '--cloud', 'simulated:examples/fleet.json', '--store', STORE], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    if (run.status !== 0) {
      process.exitCode = run.status ?? 1;
      return;
    }
  }
  mkdirSync(DEMO, { recursive: true });
  const { token, sha256 } = newApiToken();
  const auth = join(DEMO, 'auth.json');
  writeFileSync(auth, `${JSON.stringify({ tokens: [{ name: 'console-demo', sha256, subject: 'demo-approver', roles: ['reader', 'approver', 'operator'] }] }, null, 2)}\n`, { mode: 0o600 });
  console.error(`sign in at http://127.0.0.1:${port}/console with this token (valid until the next npm run console):\n\n  ${token}\n`);
  const api = spawn(process.execPath, [CLI, 'api', '--store', STORE, '--auth', auth, '--port', port, '--host', '127.0.0.1'], { cwd: ROOT, stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => api.kill(signal));
  api.once('exit', (code, signal) => (process.exitCode = code ?? (signal ? 0 : 1)));
}

main();
