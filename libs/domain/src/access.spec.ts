import { authorize, principalOf, type Credentials } from './access';

const roster = [
  { id: 'alice@acme.example', aliases: ['asmith'], authorities: ['team-lead' as const] },
  { id: 'carol@acme.example', authorities: ['change-board' as const] },
];
const jwt = (subject: string, extra: Partial<Credentials> = {}): Credentials => ({ subject, names: [], roles: [], method: 'jwt', ...extra });

describe('access: principals and roles', () => {
  it('given a subject on the roster, the principal is that roster id, an approver and a reader', () => {
    const p = principalOf(jwt('Alice@ACME.example'), roster);
    expect(p).toEqual({ identity: 'alice@acme.example', subject: 'Alice@ACME.example', names: ['Alice@ACME.example'], roles: ['reader', 'approver'], method: 'jwt', onRoster: true });
  });

  it('given an opaque subject and a preferred_username that is a roster alias, it maps by the alias', () => {
    const p = principalOf(jwt('00u1f2', { names: ['ASmith'] }), roster);
    expect(p.identity).toBe('alice@acme.example');
    expect(p.onRoster).toBe(true);
  });

  it('given a subject or name that only Unicode normalization makes a roster id or alias, it is not on the roster: no approver, identity kept apart', () => {
    for (const credentials of [jwt('ｃａｒｏｌ@ａｃｍｅ.example'), jwt('00u-eve', { names: ['a\u00adsmith'] }), jwt('00u-eve', { names: ['asmith\u200b'] }), jwt('\u212aarol@acme.example')]) {
      const p = principalOf(credentials, roster);
      expect({ onRoster: p.onRoster, roles: p.roles }).toEqual({ onRoster: false, roles: [] });
      expect(['carol@acme.example', 'alice@acme.example']).not.toContain(p.identity);
    }
    expect(principalOf(jwt('00u-eve', { names: ['eve@x.example', 'ASMITH '] }), roster)).toMatchObject({ identity: 'alice@acme.example', names: ['00u-eve', 'eve@x.example', 'ASMITH '], onRoster: true });
  });

  it('given someone off the roster, the roles are the claimed ones that optex knows, and the identity the subject', () => {
    const p = principalOf(jwt('Robot-1', { roles: ['Submitter', 'reader', 'admin'] }), roster);
    expect(p).toMatchObject({ identity: 'robot-1', roles: ['reader', 'submitter'], onRoster: false });
  });

  it('no caller → 401; a caller without the role → 403 naming who and what is needed; with it → allowed', () => {
    expect(authorize(undefined, 'reader')).toMatchObject({ allowed: false, status: 401 });
    const reader = principalOf(jwt('dave', { roles: ['reader'] }), roster);
    expect(authorize(reader, 'operator')).toEqual({ allowed: false, status: 403, reason: 'dave holds reader; this needs the operator role' });
    expect(authorize(principalOf(jwt('eve'), []), 'reader')).toMatchObject({ status: 403, reason: 'eve holds no role; this needs the reader role' });
    expect(authorize(reader, 'reader')).toEqual({ allowed: true, principal: reader });
  });
});
