import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPolicy } from '@optex/domain';
import { loadPolicy, UsageError } from './adapters';

describe('loadPolicy (--policy FILE)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'optex-policy-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('reads a file that starts with a byte order mark as one without it', async () => {
    const text = JSON.stringify({ ...defaultPolicy, version: 'bom-1' });
    expect(await loadPolicy(file('bom.json', `\uFEFF${text}`))).toEqual(await loadPolicy(file('plain.json', text)));
    expect((await loadPolicy(file('bom.json', `\uFEFF${text}`))).version).toBe('bom-1');
  });

  it('names the file that is not JSON', async () => {
    const path = file('broken.json', '{"version": ');
    await expect(loadPolicy(path)).rejects.toThrow(UsageError);
    await expect(loadPolicy(path)).rejects.toThrow(`--policy: ${path} is not valid JSON`);
  });

  it('names each bad field once, as the README shows it (the path was printed twice)', async () => {
    const path = file('bad-hook.json', JSON.stringify({ notifications: { webhooks: [{ name: 'a', url: 'http://hooks.example/x' }] } }));
    await expect(loadPolicy(path)).rejects.toThrow(`--policy: ${path}: notifications.webhooks.0.url a webhook URL must be https (plain http only on loopback)`);
  });
});
