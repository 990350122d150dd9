import { recommendation, recs } from './__fixtures__';
import { assessRisk, decideApproval, defaultPolicy, parsePolicy } from './policy';
import { defaultPriceBook } from './pricing';
import type { Policy } from './policy';
import type { Action, Recommendation } from './types';

const assess = (rec: Recommendation, policy: Policy = defaultPolicy) => assessRisk(rec, policy);
const factorsOf = (rec: Recommendation) => assess(rec).factors.map((f) => f.factor);
const rightsizeFrom = (currentInstanceType: string, overrides: Partial<Omit<Recommendation, 'action'>> = {}) =>
  recommendation({ type: 'rightsize', currentInstanceType, targetInstanceType: 'm5.large' }, overrides);
const withTags = (rec: Recommendation, tags: Record<string, string>): Recommendation => ({ ...rec, resource: { ...rec.resource, tags } });

describe('assessRisk: base levels', () => {
  it.each<[Action['type'], Recommendation, string]>([
    ['purchase-reserved-instances', recs.purchaseRI, 'LOW'],
    ['modify-volume', recs.modifyVolume, 'LOW'],
    ['rightsize', recs.rightsize, 'MEDIUM'],
    ['stop-idle', recs.stopIdle, 'MEDIUM'],
    ['delete-volume', recs.deleteVolume, 'HIGH'],
    ['release-address', recs.releaseAddress, 'HIGH'],
  ])('%s starts at %s', (_action, rec, level) => {
    expect(assess(rec)).toEqual({ baseLevel: level, level, factors: [], policyVersion: 'default-v1' });
  });

  it('delete-snapshot is HIGH and irreversible, hence CRITICAL', () => {
    expect(assess(recs.deleteSnapshot)).toEqual({
      baseLevel: 'HIGH',
      level: 'CRITICAL',
      factors: [{ factor: 'irreversible', detail: 'delete-snapshot cannot be undone' }],
      policyVersion: 'default-v1',
    });
  });
});

describe('assessRisk: production factor', () => {
  it.each([
    [{ Env: 'Production' }, 'Env=Production'],
    [{ stage: 'prod' }, 'stage=prod'],
    [{ ENVIRONMENT: 'PROD' }, 'ENVIRONMENT=PROD'],
    [{ environment: 'production' }, 'environment=production'],
  ])('applies for tags %j', (tags, shown) => {
    const risk = assess(withTags(recs.rightsize, tags));
    expect(risk.level).toBe('HIGH');
    expect(risk.factors).toEqual([{ factor: 'production', detail: `tag ${shown} marks a production resource` }]);
  });

  it.each([
    [{ env: 'production ' }, 'env=production '],
    [{ 'env ': 'production' }, 'env =production'],
    [{ Environment: ' Prod' }, 'Environment= Prod'],
    [{ env: 'prod\u200b' }, 'env=prod\u200b'],
  ])('applies for tags %j too (white space around them and invisible characters are not part of the tag as read)', (tags, shown) => {
    expect(assess(withTags(recs.rightsize, tags)).factors).toEqual([{ factor: 'production', detail: `tag ${shown} marks a production resource` }]);
  });

  it.each<Record<string, string>>([{ environment: 'staging' }, { Env: 'preprod' }, { Envs: 'prod' }, { Name: 'prod' }, { env: 'production-like' }])('does not apply for tags %j', (tags) => {
    expect(factorsOf(withTags(recs.rightsize, tags))).toEqual([]);
  });

  it('does not apply without tags', () => {
    expect(factorsOf(recs.rightsize)).toEqual([]);
  });
});

describe('assessRisk: criticality factor', () => {
  it.each<Record<string, string>>([{ criticality: 'high' }, { Criticality: 'Critical' }, { CRITICALITY: 'HIGH' }])('applies for %j', (tags) => {
    const risk = assess(withTags(recs.modifyVolume, tags));
    expect(risk.level).toBe('MEDIUM');
    expect(risk.factors.map((f) => f.factor)).toEqual(['criticality']);
    expect(risk.factors[0]!.detail).toContain('marks a critical resource');
  });

  it.each<Record<string, string>>([{ criticality: 'medium' }, { criticality: 'low' }, { crit: 'high' }])('does not apply for %j', (tags) => {
    expect(factorsOf(withTags(recs.modifyVolume, tags))).toEqual([]);
  });
});

describe('assessRisk: large factor', () => {
  it('applies to m5.8xlarge (N = 8)', () => {
    const risk = assess(rightsizeFrom('m5.8xlarge'));
    expect(risk.level).toBe('HIGH');
    expect(risk.factors).toEqual([{ factor: 'large', detail: 'instance size 8xlarge (m5.8xlarge) is at least 8xlarge' }]);
  });

  it('does not apply to m5.4xlarge (N = 4)', () => {
    expect(factorsOf(rightsizeFrom('m5.4xlarge'))).toEqual([]);
  });

  it('applies to m5.12xlarge and to metal sizes', () => {
    expect(factorsOf(rightsizeFrom('m5.12xlarge'))).toEqual(['large']);
    expect(assess(rightsizeFrom('m5.metal')).factors[0]!.detail).toBe('instance size metal (m5.metal) is metal');
    expect(factorsOf(rightsizeFrom('c6i.metal-32xl'))).toEqual(['large']);
  });

  it('applies at monthlyCost 1000 but not at 999.99', () => {
    expect(assess(rightsizeFrom('m5.xlarge', { resource: { type: 'ec2:instance', id: 'i-1', monthlyCost: 1000 } })).factors).toEqual([
      { factor: 'large', detail: 'monthly cost 1000 is at least 1000' },
    ]);
    expect(factorsOf(rightsizeFrom('m5.xlarge', { resource: { type: 'ec2:instance', id: 'i-1', monthlyCost: 999.99 } }))).toEqual([]);
  });

  it('counts once when both size and cost are large, naming both', () => {
    const risk = assess(rightsizeFrom('m5.8xlarge', { resource: { type: 'ec2:instance', id: 'i-1', monthlyCost: 2000 } }));
    expect(risk.factors).toHaveLength(1);
    expect(risk.factors[0]!.detail).toBe('instance size 8xlarge (m5.8xlarge) is at least 8xlarge; monthly cost 2000 is at least 1000');
  });

  it('applies to stop-idle through monthlyCost', () => {
    expect(factorsOf({ ...recs.stopIdle, resource: { ...recs.stopIdle.resource, monthlyCost: 1500 } })).toEqual(['large']);
  });

  it('does not apply to other actions, whatever the cost', () => {
    expect(factorsOf({ ...recs.modifyVolume, resource: { ...recs.modifyVolume.resource, monthlyCost: 5000 } })).toEqual([]);
  });
});

describe('assessRisk: big impact factor', () => {
  it('applies above 5000 (5000.01)', () => {
    const risk = assess({ ...recs.purchaseRI, estimatedMonthlySavings: 5000.01 });
    expect(risk.level).toBe('MEDIUM');
    expect(risk.factors).toEqual([{ factor: 'big-impact', detail: 'estimated monthly savings 5000.01 is above 5000' }]);
  });

  it('does not apply at exactly 5000', () => {
    expect(factorsOf({ ...recs.purchaseRI, estimatedMonthlySavings: 5000 })).toEqual([]);
  });

  it('applies when the plan on the live resource saves more than 5000 by the price book, whatever the estimate', () => {
    const io1 = { kind: 'volume' as const, id: 'vol-0abc', volumeType: 'io1', sizeGiB: 16384, iops: 64000, state: 'available', availabilityZone: 'us-east-1a', tags: {} };
    // io1 16,384 GiB × 0.125 + 64,000 IOPS × 0.065 = 6,208.00 a month; its backup snapshot 16,384 × 0.05 = 819.20: 5,388.80 saved
    const deleteIt = { ...recs.deleteVolume, estimatedMonthlySavings: 1 };
    expect(assessRisk(deleteIt, defaultPolicy, defaultPriceBook, { observed: io1 }).factors).toContainEqual({
      factor: 'big-impact',
      detail: 'monthly savings 5388.80 by the price book on the live resource is above 5000 (estimated 1)',
    });
    // without the book, or without the live volume, only the estimate counts
    expect(assessRisk(deleteIt, defaultPolicy, undefined, { observed: io1 }).factors.map((f) => f.factor)).not.toContain('big-impact');
    expect(assessRisk(deleteIt, defaultPolicy, defaultPriceBook).factors.map((f) => f.factor)).not.toContain('big-impact');
    // a smaller volume: 100 GiB io1 with 64,000 IOPS saves 4,167.50 — below 5000
    expect(assessRisk(deleteIt, defaultPolicy, defaultPriceBook, { observed: { ...io1, sizeGiB: 100 } }).factors.map((f) => f.factor)).not.toContain('big-impact');
  });
});

describe('assessRisk: irreversible factor and combinations', () => {
  it('applies to delete-volume without a snapshot, not with one', () => {
    expect(assess(recs.deleteVolumeNoSnapshot).factors).toEqual([{ factor: 'irreversible', detail: 'delete-volume without a snapshot cannot be undone' }]);
    expect(factorsOf(recs.deleteVolume)).toEqual([]);
  });

  it('raises one level per factor, capped at CRITICAL, recording every factor', () => {
    const rec = rightsizeFrom('m5.8xlarge', { estimatedMonthlySavings: 6000, resource: { type: 'ec2:instance', id: 'i-1', tags: { env: 'prod', criticality: 'high' } } });
    const risk = assess(rec);
    expect(risk.baseLevel).toBe('MEDIUM');
    expect(risk.level).toBe('CRITICAL');
    expect(risk.factors.map((f) => f.factor)).toEqual(['production', 'criticality', 'large', 'big-impact']);
  });

  it('records the policy version and honours disabled factors', () => {
    const policy: Policy = { ...defaultPolicy, version: 'p2', risk: { ...defaultPolicy.risk, factors: { ...defaultPolicy.risk.factors, irreversible: { enabled: false } } } };
    expect(assessRisk(recs.deleteSnapshot, policy)).toEqual({ baseLevel: 'HIGH', level: 'HIGH', factors: [], policyVersion: 'p2' });
  });
});

describe('decideApproval', () => {
  const decide = (rec: Recommendation) => decideApproval(assess(rec), rec, defaultPolicy);

  it('takes the larger of the estimate and the savings the price book gives the plan: either above the limit asks a person', () => {
    const lowRisk = assess(recs.modifyVolume);
    expect(decideApproval(lowRisk, recs.modifyVolume, defaultPolicy, { monthlyCostChange: -500 }).mode).toBe('auto');
    expect(decideApproval(lowRisk, recs.modifyVolume, defaultPolicy, { monthlyCostChange: -500.01 }).mode).toBe('manual');
    expect(decideApproval(lowRisk, { ...recs.modifyVolume, estimatedMonthlySavings: 500.01 }, defaultPolicy, { monthlyCostChange: -10 }).mode).toBe('manual');
    // a change the book says saves less (or costs more: costs-more decides that) changes nothing here
    expect(decideApproval(lowRisk, recs.modifyVolume, defaultPolicy, { monthlyCostChange: 20 }).mode).toBe('auto');
  });

  it('auto-approves LOW risk with savings of exactly 500', () => {
    expect(decide({ ...recs.purchaseRI, estimatedMonthlySavings: 500 })).toEqual({ mode: 'auto' });
  });

  it('asks a team lead for LOW risk with savings of 500.01', () => {
    expect(decide({ ...recs.purchaseRI, estimatedMonthlySavings: 500.01 })).toEqual({
      mode: 'manual',
      authority: 'team-lead',
      requiredApprovals: 1,
      expiresInMs: 7 * 24 * 3600 * 1000,
    });
  });

  it('asks a team lead for MEDIUM risk even with small savings', () => {
    expect(decide({ ...recs.rightsize, estimatedMonthlySavings: 10 })).toMatchObject({ mode: 'manual', authority: 'team-lead', requiredApprovals: 1 });
  });

  it('asks a FinOps manager for HIGH risk', () => {
    expect(decide(recs.releaseAddress)).toMatchObject({ mode: 'manual', authority: 'finops-manager', requiredApprovals: 1 });
  });

  it('asks the change board, with two approvers, for CRITICAL risk', () => {
    expect(decide(recs.deleteSnapshot)).toMatchObject({ mode: 'manual', authority: 'change-board', requiredApprovals: 2 });
  });

  it('uses the configured expiry', () => {
    const policy: Policy = { ...defaultPolicy, approval: { ...defaultPolicy.approval, expiryHours: 1 } };
    expect(decideApproval(assess(recs.rightsize), recs.rightsize, policy)).toMatchObject({ expiresInMs: 3_600_000 });
  });

  it('never auto-approves when auto approval is disabled', () => {
    const policy: Policy = { ...defaultPolicy, approval: { ...defaultPolicy.approval, autoApprove: { enabled: false, maxLevel: 'LOW', maxMonthlySavings: 500, maxUpfront: null } } };
    expect(decideApproval(assess(recs.modifyVolume), recs.modifyVolume, policy).mode).toBe('manual');
  });
});

describe('parsePolicy', () => {
  it('returns the default for an empty override', () => {
    expect(parsePolicy({})).toEqual({ ok: true, value: defaultPolicy });
  });

  it('deep-merges a partial override onto the default', () => {
    const result = parsePolicy({ version: 'team-x-3', approval: { autoApprove: { maxMonthlySavings: 1000 } } });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.version).toBe('team-x-3');
    expect(result.value.approval.autoApprove).toEqual({ enabled: true, maxLevel: 'LOW', maxMonthlySavings: 1000, maxUpfront: null });
    expect(result.value.approval.authority).toEqual(defaultPolicy.approval.authority);
    expect(result.value.risk).toEqual(defaultPolicy.risk);
  });

  it('versions an override without a version as default-v1+override', () => {
    const result = parsePolicy({ approval: { expiryHours: 24 } });
    expect(result.ok && result.value.version).toBe('default-v1+override');
  });

  it('replaces arrays instead of merging them', () => {
    const result = parsePolicy({ risk: { factors: { large: { actions: ['rightsize'] } } } });
    expect(result.ok && result.value.risk.factors.large.actions).toEqual(['rightsize']);
  });

  it('rejects unknown keys, naming their path', () => {
    expect(parsePolicy({ approval: { autoApprov: {} } })).toEqual({
      ok: false,
      errors: [{ path: 'approval.autoApprov', message: 'approval.autoApprov is not a known field' }],
    });
  });

  it('rejects a __proto__ key as an unknown field instead of merging it into the prototype', () => {
    const result = parsePolicy(JSON.parse('{"__proto__": {"version": "evil"}}'));
    expect(result).toEqual({ ok: false, errors: [{ path: '__proto__', message: '__proto__ is not a known field' }] });
  });

  it('rejects bad values naming each field', () => {
    const result = parsePolicy({
      risk: { baseLevels: { rightsize: 'EXTREME' }, factors: { production: { tagKeyPattern: '(' } } },
      approval: { requiredApprovals: { CRITICAL: 0 }, expiryHours: -1, authority: { HIGH: 'cto' } },
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const byPath = Object.fromEntries(result.errors.map((e) => [e.path, e.message]));
    expect(byPath['risk.baseLevels.rightsize']).toMatch(/^risk\.baseLevels\.rightsize must be one of "LOW"/);
    expect(byPath['risk.factors.production.tagKeyPattern']).toMatch(/must be a valid regular expression/);
    expect(byPath['approval.requiredApprovals.CRITICAL']).toMatch(/must be at least 1/);
    expect(byPath['approval.expiryHours']).toMatch(/must be greater than 0/);
    expect(byPath['approval.authority.HIGH']).toMatch(/must be one of "team-lead", "finops-manager", "change-board"/);
  });

  it('refuses an approval expiry beyond a year (1e308 hours made every approval request throw and the run stall)', () => {
    const result = parsePolicy({ approval: { expiryHours: 1e308 } });
    expect(result.ok ? [] : result.errors.map((e) => e.message)).toEqual([expect.stringMatching(/^approval\.expiryHours must be at most 8760 \(a year\)/)]);
    expect(parsePolicy({ approval: { expiryHours: 8760 } }).ok).toBe(true);
  });

  it('rejects a wrongly typed section', () => {
    expect(parsePolicy({ risk: 5 })).toEqual({ ok: false, errors: [{ path: 'risk', message: 'risk must be an object, got 5' }] });
  });

  it.each([null, [], 'policy', 3])('rejects %p at (root)', (raw) => {
    const result = parsePolicy(raw);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors[0]!.path).toBe('(root)');
  });

  it('produces a policy that changes the risk as configured', () => {
    const result = parsePolicy({ risk: { factors: { bigImpact: { savingsAbove: 100 } } } });
    if (!result.ok) throw new Error('expected a valid policy');
    expect(assessRisk({ ...recs.purchaseRI, estimatedMonthlySavings: 101 }, result.value).factors.map((f) => f.factor)).toEqual(['big-impact']);
  });
});
