import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthConfigError, loadAuthConfig } from './auth-config';

describe('loadAuthConfig (--auth FILE)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'optex-auth-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const config = { tokens: [{ name: 'ci', sha256: 'a'.repeat(64), subject: 'ci@acme.example', roles: ['reader'] }] };

  it('reads a file that starts with a byte order mark as one without it', async () => {
    const read = await loadAuthConfig(file('bom.json', `\uFEFF${JSON.stringify(config)}`));
    expect(read).toEqual(await loadAuthConfig(file('plain.json', JSON.stringify(config))));
    expect(read.tokens.map((t) => t.name)).toEqual(['ci']);
  });

  it('refuses the same token hash twice (the last entry would silently win), naming the entry', async () => {
    const twice = { tokens: [...config.tokens, { name: 'ops', sha256: 'a'.repeat(64), subject: 'ops@acme.example', roles: ['operator'] }] };
    await expect(loadAuthConfig(file('twice.json', JSON.stringify(twice)))).rejects.toThrow(/tokens\.1\.sha256.*is the same token as tokens\.0 \("ci"\)/);
  });

  it('names the file that is not JSON', async () => {
    const path = file('broken.json', '{"issuer": ');
    await expect(loadAuthConfig(path)).rejects.toThrow(AuthConfigError);
    await expect(loadAuthConfig(path)).rejects.toThrow(`--auth: ${path} is not valid JSON`);
  });
});
