import { parsePolicy } from './policy';
import { eligibleApprovers, eligibleIdentity, holdsAuthority, normalizeIdentity, rosterEntryFor } from './roster';

describe('roster', () => {
  it('normalizes identities: NFKC, trimmed, inner space collapsed, lower case', () => {
    expect(normalizeIdentity('  Alice   Smith ')).toBe('alice smith');
    expect(normalizeIdentity('ＡＬＩＣＥ')).toBe('alice');
    // Invisible format characters print as nothing: one person, not two approvers (four eyes met by one).
    for (const invisible of ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad', '\u200e']) expect(normalizeIdentity(`ca${invisible}rol${invisible}`)).toBe('carol');
    expect(normalizeIdentity('Alice')).toBe(normalizeIdentity('alice'));
  });

  it('finds an entry by id or alias, whatever the case', () => {
    const roster = [{ id: 'alice@acme.example', aliases: ['asmith'], authorities: ['team-lead' as const] }];
    expect(rosterEntryFor(roster, 'ASmith')?.id).toBe('alice@acme.example');
    expect(rosterEntryFor(roster, 'Alice@ACME.example')?.id).toBe('alice@acme.example');
    expect(rosterEntryFor(roster, 'bob')).toBeUndefined();
  });

  it('a higher authority may decide a lower request only when the policy says so', () => {
    const board = { id: 'b', authorities: ['change-board' as const] };
    expect(holdsAuthority(board, 'team-lead', true)).toBe(true);
    expect(holdsAuthority(board, 'team-lead', false)).toBe(false);
    expect(holdsAuthority({ id: 'l', authorities: ['team-lead'] }, 'finops-manager', true)).toBe(false);
  });

  it('the eligible list of a request: undefined without a roster, ids and aliases normalized with one', () => {
    expect(eligibleApprovers([], 'team-lead', true)).toBeUndefined();
    const eligible = eligibleApprovers([{ id: 'Alice@Acme.example', aliases: ['ASmith'], authorities: ['finops-manager'] }], 'team-lead', true) ?? [];
    expect(eligible).toEqual([{ id: 'alice@acme.example', aliases: ['asmith'] }]);
    expect(eligibleIdentity(eligible, ' asmith ')).toBe('alice@acme.example');
    expect(eligibleIdentity(eligible, 'mallory')).toBeUndefined();
  });

  it('a policy file with bad roster entries is rejected with each path', () => {
    const result = parsePolicy({
      approval: {
        roster: [
          { id: 'alice', authorities: ['boss'] },
          { id: '   ', authorities: ['team-lead'] },
          { id: 'bob', authorities: [] },
          { id: 'carol', authorities: ['team-lead'], role: 'x' },
        ],
      },
    });
    expect(result.ok).toBe(false);
    const paths = result.ok ? [] : result.errors.map((e) => e.path);
    expect(paths).toEqual(
      expect.arrayContaining(['approval.roster.0.authorities.0', 'approval.roster.1.id', 'approval.roster.2.authorities', 'approval.roster.3.role']),
    );
  });

  it('one person twice (an id or alias repeating another, whatever the case) is rejected at the repeat', () => {
    const result = parsePolicy({ approval: { roster: [{ id: 'alice', authorities: ['team-lead'] }, { id: 'bob', aliases: ['ALICE'], authorities: ['team-lead'] }] } });
    expect(result.ok ? [] : result.errors).toEqual([expect.objectContaining({ path: 'approval.roster.1.aliases.0', message: expect.stringContaining('"ALICE" is already roster[0].id') })]);
  });

  it('a good roster parses, and the default policy has none (any name decides)', () => {
    const result = parsePolicy({ approval: { roster: [{ id: 'alice@acme.example', name: 'Alice', aliases: ['alice'], authorities: ['team-lead'], groups: ['platform'] }] } });
    expect(result.ok && result.value.approval.roster).toHaveLength(1);
    const plain = parsePolicy({});
    expect(plain.ok && plain.value.approval.roster).toEqual([]);
  });
});
