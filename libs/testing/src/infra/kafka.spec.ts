import { newClusterId } from './kafka';

describe('newClusterId', () => {
  it('is 16 bytes in base64url', () => {
    expect(newClusterId()).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  });

  it('draws again when the id would start with "-" (kafka-storage format would read it as an option)', () => {
    const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0x00)];
    expect(draws[0]!.toString('base64url').startsWith('-')).toBe(true);
    const id = newClusterId(() => draws.shift()!);
    expect(id).toBe(Buffer.alloc(16, 0x00).toString('base64url'));
    expect(draws).toHaveLength(0);
  });
});
