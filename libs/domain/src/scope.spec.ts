import { observed, recs } from './__fixtures__';
import { defaultPolicy, parsePolicy } from './policy';
import { assessmentScopeViolations, optOutTagIn, preValidationScopeViolations } from './scope';
import type { ScopePolicy } from './scope';
import type { Recommendation } from './types';

const ACCOUNT = '123456789012';
const scope = (override: Partial<ScopePolicy> = {}): ScopePolicy => ({ ...defaultPolicy.scope, ...override });
const tagged = (rec: Recommendation, tags: Record<string, string>): Recommendation => ({ ...rec, resource: { ...rec.resource, tags } });
const rulesOf = (violations: readonly { rule: string }[]) => violations.map((v) => v.rule);

describe('scope policy: defaults and parsing', () => {
  it('allows every account, region and id by default, with the opt-out tag optex:skip=true on', () => {
    expect(defaultPolicy.scope).toEqual({ optOutTag: { enabled: true, key: 'optex:skip', value: 'true' } });
    expect(assessmentScopeViolations({ ...recs.rightsize, accountId: '999999999999', region: 'ap-south-2' }, defaultPolicy.scope, undefined)).toEqual([]);
  });

  it('reads allow-lists, a resource-id pattern and another opt-out tag from a policy file', () => {
    const result = parsePolicy({
      scope: { accounts: [ACCOUNT], regions: ['us-east-1', 'eu-west-1'], resourceIdPattern: '^(i|vol)-', optOutTag: { enabled: true, key: 'finops:exclude', value: 'yes' } },
    });
    expect(result.ok && result.value.scope).toEqual({
      accounts: [ACCOUNT],
      regions: ['us-east-1', 'eu-west-1'],
      resourceIdPattern: '^(i|vol)-',
      optOutTag: { enabled: true, key: 'finops:exclude', value: 'yes' },
    });
  });

  it('keeps the default opt-out tag when a policy file sets only an allow-list', () => {
    const result = parsePolicy({ scope: { regions: ['us-east-1'] } });
    expect(result.ok && result.value.scope.optOutTag).toEqual(defaultPolicy.scope.optOutTag);
  });

  it('rejects bad scope fields, naming each', () => {
    const result = parsePolicy({ scope: { accounts: ['12345'], regions: [], resourceIdPattern: '(', optOutTag: { key: '' }, everything: true } });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const byPath = Object.fromEntries(result.errors.map((e) => [e.path, e.message]));
    expect(byPath['scope.accounts.0']).toMatch(/must be exactly 12 digits/);
    expect(byPath['scope.regions']).toMatch(/must list at least one region; leave the field out to allow every region/);
    expect(byPath['scope.resourceIdPattern']).toMatch(/must be a valid regular expression/);
    expect(byPath['scope.optOutTag.key']).toMatch(/must not be empty/);
    expect(byPath['scope.everything']).toMatch(/is not a known field/);
  });

  it('rejects a region no recommendation can name (it would refuse everything as out of scope), naming its path', () => {
    const result = parsePolicy({ scope: { regions: ['us-east-1', 'us-east-9'] } });
    expect(!result.ok && result.errors.map((e) => e.path)).toEqual(['scope.regions.1']);
    expect(!result.ok && result.errors[0]!.message).toMatch(/must be an AWS region such as us-east-1, got "us-east-9"/);
  });
});

describe('assessmentScopeViolations', () => {
  it('refuses an account outside the allow-list, naming the rule', () => {
    expect(assessmentScopeViolations({ ...recs.rightsize, accountId: '999999999999' }, scope({ accounts: [ACCOUNT] }), undefined)).toEqual([
      { rule: 'accounts', reason: `scope.accounts: account 999999999999 is not allowed (allowed: ${ACCOUNT})` },
    ]);
  });

  it('refuses a region outside the allow-list', () => {
    expect(assessmentScopeViolations({ ...recs.rightsize, region: 'eu-west-1' }, scope({ regions: ['us-east-1'] }), ACCOUNT)).toEqual([
      { rule: 'regions', reason: 'scope.regions: region eu-west-1 is not allowed (allowed: us-east-1)' },
    ]);
  });

  it("checks a reservation purchase's offering too, when the recommendation names another resource id: the offering is what is bought", () => {
    const decoy: Recommendation = { ...recs.purchaseRI, resource: { ...recs.purchaseRI.resource, id: 'vol-decoy' } };
    const violations = assessmentScopeViolations(decoy, scope({ resourceIdPattern: '^(i|vol|snap|eipalloc)-' }), ACCOUNT);
    expect(violations).toEqual([{ rule: 'resource-id-pattern', reason: 'scope.resourceIdPattern: resource id ri-offering-0abc does not match /^(i|vol|snap|eipalloc)-/' }]);
    expect(preValidationScopeViolations(decoy, scope({ resourceIdPattern: '^(i|vol|snap|eipalloc)-' }), observed.offering).map((v) => v.rule)).toEqual(['resource-id-pattern']);
  });

  it('refuses a resource id that does not match the pattern (case-sensitive)', () => {
    expect(rulesOf(assessmentScopeViolations(recs.rightsize, scope({ resourceIdPattern: '^vol-' }), ACCOUNT))).toEqual(['resource-id-pattern']);
    expect(rulesOf(assessmentScopeViolations(recs.rightsize, scope({ resourceIdPattern: '^I-' }), ACCOUNT))).toEqual(['resource-id-pattern']);
    expect(assessmentScopeViolations(recs.rightsize, scope({ resourceIdPattern: '^i-' }), ACCOUNT)).toEqual([]);
  });

  it('refuses a recommendation whose stated tags carry the opt-out tag', () => {
    expect(assessmentScopeViolations(tagged(recs.modifyVolume, { 'optex:skip': 'true' }), scope(), ACCOUNT)).toEqual([
      { rule: 'opt-out-tag', reason: 'scope.optOutTag: the recommendation says vol-0abc is tagged optex:skip=true' },
    ]);
  });

  it('refuses an account that is not the credentials account', () => {
    expect(assessmentScopeViolations({ ...recs.rightsize, accountId: '999999999999' }, scope(), ACCOUNT)).toEqual([
      { rule: 'credentials-account', reason: `credentials: account 999999999999 is not the account of the cloud credentials (${ACCOUNT})` },
    ]);
  });

  it('makes no credentials check when the cloud does not say whose credentials these are', () => {
    expect(assessmentScopeViolations({ ...recs.rightsize, accountId: '999999999999' }, scope(), undefined)).toEqual([]);
  });

  it('reports every rule broken, in a fixed order', () => {
    const rec = tagged({ ...recs.rightsize, accountId: '999999999999', region: 'eu-west-1' }, { 'optex:skip': 'true' });
    expect(rulesOf(assessmentScopeViolations(rec, scope({ accounts: [ACCOUNT], regions: ['us-east-1'], resourceIdPattern: '^vol-' }), ACCOUNT))).toEqual([
      'accounts',
      'regions',
      'resource-id-pattern',
      'opt-out-tag',
      'credentials-account',
    ]);
  });
});

describe('the opt-out tag', () => {
  it.each<Record<string, string>>([{ 'optex:skip': 'true' }, { 'Optex:Skip': 'TRUE' }, { Name: 'db', 'optex:skip': 'True' }])('matches %j (case-insensitive)', (tags) => {
    expect(optOutTagIn(tags, defaultPolicy.scope.optOutTag)).toBeDefined();
  });

  // What reads as the opt-out tag is one: white space around a key or value, and invisible characters, fail safe.
  it.each<Record<string, string>>([{ 'optex:skip': 'true ' }, { ' optex:skip': 'true' }, { 'optex:skip ': 'true' }, { 'optex:skip': ' true' }, { 'optex:skip': 'true\u200b' }, { '\ufeffoptex:skip': 'true' }])(
    'matches %j (white space around it and invisible characters are not part of the tag as read)',
    (tags) => {
      expect(optOutTagIn(tags, defaultPolicy.scope.optOutTag)).toBeDefined();
    },
  );

  it.each<Record<string, string>>([{ 'optex:skip': 'false' }, { 'optex:skip': '' }, { 'optex:skipped': 'true' }, { skip: 'true' }, { 'optex: skip': 'true' }, {}])('does not match %j', (tags) => {
    expect(optOutTagIn(tags, defaultPolicy.scope.optOutTag)).toBeUndefined();
  });

  it('can be switched off or renamed', () => {
    expect(optOutTagIn({ 'optex:skip': 'true' }, { enabled: false, key: 'optex:skip', value: 'true' })).toBeUndefined();
    expect(optOutTagIn({ 'finops:exclude': 'yes' }, { enabled: true, key: 'finops:exclude', value: 'yes' })).toBe('finops:exclude=yes');
  });
});

describe('preValidationScopeViolations', () => {
  it('refuses a live resource tagged with the opt-out tag', () => {
    const live = { ...observed.runningInstance, tags: { 'optex:skip': 'true' } };
    expect(preValidationScopeViolations(recs.rightsize, scope(), live)).toEqual([
      { rule: 'opt-out-tag', reason: 'scope.optOutTag: the live resource i-0abc is tagged optex:skip=true' },
    ]);
  });

  it.each([
    ['a volume', recs.modifyVolume, { ...observed.gp2Volume, tags: { 'optex:skip': 'true' } }],
    ['a snapshot', recs.deleteSnapshot, { ...observed.snapshot, tags: { 'optex:skip': 'true' } }],
    ['an address', recs.releaseAddress, { ...observed.address, tags: { 'optex:skip': 'true' } }],
  ] as const)('reads the live tags of %s', (_kind, rec, live) => {
    expect(rulesOf(preValidationScopeViolations(rec, scope(), live))).toEqual(['opt-out-tag']);
  });

  it('passes an untagged live resource, a missing one and an offering (which has no tags)', () => {
    expect(preValidationScopeViolations(recs.rightsize, scope(), observed.runningInstance)).toEqual([]);
    expect(preValidationScopeViolations(recs.rightsize, scope(), undefined)).toEqual([]);
    expect(preValidationScopeViolations(recs.purchaseRI, scope(), observed.offering)).toEqual([]);
  });

  it('checks the allow-lists again (the policy may have changed since the assessment)', () => {
    expect(rulesOf(preValidationScopeViolations(recs.rightsize, scope({ regions: ['eu-west-1'] }), observed.runningInstance))).toEqual(['regions']);
  });
});
