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
    const board = [
      { id: 'carol', authorities: ['change-board'] },
      { id: 'dan', authorities: ['change-board'] },
    ];
    const result = parsePolicy({ approval: { roster: [{ id: 'alice', authorities: ['team-lead'] }, { id: 'bob', aliases: ['ALICE'], authorities: ['team-lead'] }, ...board] } });
    expect(result.ok ? [] : result.errors).toEqual([expect.objectContaining({ path: 'approval.roster.1.aliases.0', message: expect.stringContaining('"ALICE" is already roster[0].id') })]);
  });

  it('a roster with fewer people who may decide a level than it needs is refused at that level, naming who may', () => {
    // Every CRITICAL request would wait for a second change-board member who does not exist, and expire.
    const result = parsePolicy({ approval: { roster: [{ id: 'Alice', authorities: ['team-lead'] }, { id: 'Carol', authorities: ['change-board'] }], higherAuthorityDecides: false } });
    expect(result.ok ? [] : result.errors).toEqual([
      { path: 'approval.requiredApprovals.HIGH', message: 'approval.requiredApprovals.HIGH needs 1 distinct approver, but nobody on approval.roster may decide for finops-manager: no HIGH change could ever be approved' },
      { path: 'approval.requiredApprovals.CRITICAL', message: 'approval.requiredApprovals.CRITICAL needs 2 distinct approvers, but only 1 (Carol) on approval.roster may decide for change-board: no CRITICAL change could ever be approved' },
    ]);
    // A higher authority deciding, or fewer approvals needed, makes the same roster enough.
    expect(parsePolicy({ approval: { roster: [{ id: 'alice', authorities: ['team-lead'] }, { id: 'carol', authorities: ['change-board'] }], requiredApprovals: { CRITICAL: 1 } } }).ok).toBe(true);
    // Without a roster any name decides: nothing to count.
    expect(parsePolicy({ approval: { requiredApprovals: { CRITICAL: 5 } } }).ok).toBe(true);
  });

  it('a good roster parses, and the default policy has none (any name decides)', () => {
    const result = parsePolicy({
      approval: {
        roster: [
          { id: 'alice@acme.example', name: 'Alice', aliases: ['alice'], authorities: ['team-lead'], groups: ['platform'] },
          { id: 'carol@acme.example', authorities: ['change-board'] },
          { id: 'dan@acme.example', authorities: ['change-board', 'finops-manager'] },
        ],
      },
    });
    expect(result.ok && result.value.approval.roster).toHaveLength(3);
    const plain = parsePolicy({});
    expect(plain.ok && plain.value.approval.roster).toEqual([]);
  });
});
