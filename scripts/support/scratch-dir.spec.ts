import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inScratchDir, inScratchDirSync } from './scratch-dir';

describe('a script’s scratch directory', () => {
  /** The directories a case saw, removed after all (the kept ones are this spec's own litter). */
  const made: string[] = [];
  afterAll(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
  const options = (lines: string[], keep = false) => ({ keep, report: (line: string) => lines.push(line), holds: 'the logs' });

  it('is removed after a success, with what was written in it, and says nothing', async () => {
    const lines: string[] = [];
    let seen = '';
    const result = await inScratchDir('spec-scratch', options(lines), async (dir) => {
      seen = dir;
      made.push(dir);
      writeFileSync(join(dir, 'service.log'), 'ok\n');
      return 42;
    });
    expect(result).toBe(42);
    expect(seen).toMatch(/optex-spec-scratch-\w{6}$/);
    expect(existsSync(seen)).toBe(false);
    expect(lines).toEqual([]);
  });

  it('is kept, and its path reported, when the work throws', async () => {
    const lines: string[] = [];
    let seen = '';
    await expect(
      inScratchDir('spec-scratch', options(lines), async (dir) => {
        seen = dir;
        made.push(dir);
        writeFileSync(join(dir, 'service.log'), 'the stack did not come up\n');
        throw new Error('stack up failed');
      }),
    ).rejects.toThrow('stack up failed');
    expect(existsSync(join(seen, 'service.log'))).toBe(true);
    expect(lines).toEqual([`kept ${seen} (the logs)`]);
  });

  it('is kept when the result is not a success (a chaos run that found a violation)', async () => {
    const lines: string[] = [];
    let seen = '';
    const violations = await inScratchDir('spec-scratch', { ...options(lines), succeeded: (n: number) => n === 0 }, async (dir) => {
      seen = dir;
      made.push(dir);
      return 2;
    });
    expect(violations).toBe(2);
    expect(existsSync(seen)).toBe(true);
    expect(lines).toEqual([`kept ${seen} (the logs)`]);
  });

  it('is kept after a success when asked to (--keep)', async () => {
    const lines: string[] = [];
    let seen = '';
    await inScratchDir('spec-scratch', options(lines, true), async (dir) => {
      seen = dir;
      made.push(dir);
    });
    expect(existsSync(seen)).toBe(true);
    expect(lines).toEqual([`kept ${seen} (the logs)`]);
  });

  describe('for synchronous work', () => {
    it('is removed after a success', () => {
      const lines: string[] = [];
      let seen = '';
      const result = inScratchDirSync('spec-scratch', options(lines), (dir) => {
        seen = dir;
        made.push(dir);
        writeFileSync(join(dir, 'events.db'), '');
        return 'figures';
      });
      expect(result).toBe('figures');
      expect(seen).toMatch(/optex-spec-scratch-\w{6}$/);
      expect(existsSync(seen)).toBe(false);
      expect(lines).toEqual([]);
    });

    it('is kept, and its path reported, when the work throws (a benchmark child that exited 1)', () => {
      const lines: string[] = [];
      let seen = '';
      expect(() =>
        inScratchDirSync('spec-scratch', options(lines), (dir) => {
          seen = dir;
          made.push(dir);
          writeFileSync(join(dir, 'events.db'), 'what the child wrote before it failed');
          throw new Error('child exited with 1');
        }),
      ).toThrow('child exited with 1');
      expect(existsSync(join(seen, 'events.db'))).toBe(true);
      expect(lines).toEqual([`kept ${seen} (the logs)`]);
    });

    it('is kept after a success when asked to (--keep), and when the result is not a success', () => {
      const lines: string[] = [];
      const kept = inScratchDirSync('spec-scratch', options(lines, true), (dir) => (made.push(dir), dir));
      const failed = inScratchDirSync('spec-scratch', { ...options(lines), succeeded: (dir: string) => dir === '' }, (dir) => (made.push(dir), dir));
      expect([existsSync(kept), existsSync(failed)]).toEqual([true, true]);
      expect(lines).toEqual([`kept ${kept} (the logs)`, `kept ${failed} (the logs)`]);
    });
  });
});
