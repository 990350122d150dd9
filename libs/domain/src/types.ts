import type { EligibleApprover } from './roster';
import type { VolumeType } from './ec2-rules';
// ── Recommendation (input contract; the zod schema in recommendation.ts must produce exactly this) ──
export type RiskLevel = 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';
export const RISK_LEVELS: readonly RiskLevel[] = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];

export type ResourceType = 'ec2:instance' | 'ec2:volume' | 'ec2:elastic-ip' | 'ec2:snapshot' | 'ec2:reserved-instances';

export type Action =
  | { readonly type: 'rightsize'; readonly currentInstanceType: string; readonly targetInstanceType: string }
  | { readonly type: 'stop-idle' }
  | { readonly type: 'modify-volume'; readonly targetVolumeType: VolumeType; readonly iops?: number; readonly throughput?: number }
  | { readonly type: 'delete-volume'; readonly snapshotFirst: boolean }
  | { readonly type: 'delete-snapshot' }
  | { readonly type: 'release-address' }
  | { readonly type: 'purchase-reserved-instances'; readonly offeringId: string; readonly instanceCount: number; readonly limitPrice?: number };
export type ActionType = Action['type'];
export const ACTION_TYPES: readonly ActionType[] = [
  'rightsize',
  'stop-idle',
  'modify-volume',
  'delete-volume',
  'delete-snapshot',
  'release-address',
  'purchase-reserved-instances',
];

export interface Recommendation {
  readonly recommendationId: string;
  readonly source: string;
  readonly accountId: string;
  readonly region: string;
  readonly resource: {
    readonly type: ResourceType;
    readonly id: string;
    readonly tags?: Readonly<Record<string, string>>;
    readonly monthlyCost?: number;
  };
  readonly action: Action;
  readonly estimatedMonthlySavings: number;
  readonly currency: 'USD';
  readonly priority?: RiskLevel;
  readonly createdAt?: string;
  /** Who asked for the change; that identity may never approve it (compared normalized, roster aliases resolved). */
  readonly requestedBy?: string;
}

export interface FieldError {
  /** Dotted path of the failing field, e.g. `action.targetInstanceType`; `(root)` for the whole record. */
  readonly path: string;
  readonly message: string;
}

// ── Policies ──
export type RiskFactor = 'production' | 'criticality' | 'large' | 'big-impact' | 'irreversible' | 'costs-more';
export interface AppliedFactor {
  readonly factor: RiskFactor;
  readonly detail: string;
}
/** The live resource as the cloud described it when the risk was assessed (see {@link RiskBasis}). */
export interface LiveResource {
  /** Absent: the resource was described and not found (or, with `error`, could not be described). */
  readonly observed?: ObservedResource;
  /**
   * Why the resource could not be described: a refusal that retrying would not change (a missing permission, say;
   * throttling and outages are retried instead). The assessment is then made on what the recommendation states, and
   * pre-validation describes the resource again before anything changes (and assesses it again on what it finds).
   */
  readonly error?: { readonly code: string; readonly message: string };
}
/**
 * What a risk assessment was made on: what the analyzer stated (the recommendation's tags, monthly cost and instance
 * type) and what the live resource is (its tags and type, its monthly cost from the price book). The factors apply
 * to the union of the two.
 */
export interface RiskBasis {
  readonly stated: {
    readonly tags?: Readonly<Record<string, string>>;
    readonly monthlyCost?: number;
    readonly instanceType?: string;
  };
  /** Absent when the live resource was not described (events recorded before risk read it). */
  readonly live?: {
    /** false also when it could not be described (`error`). */
    readonly found: boolean;
    /** Why it could not be described (see {@link LiveResource.error}). */
    readonly error?: { readonly code: string; readonly message: string };
    readonly observed?: ObservedResource;
    /** Its monthly cost by the price book (an instance at its type's on-demand price, whatever its state). */
    readonly monthlyCost?: number;
    /** The price-book figures its monthly cost needed and the book lacks. */
    readonly unpriced?: readonly string[];
  };
}
export interface RiskAssessment {
  readonly baseLevel: RiskLevel;
  readonly level: RiskLevel;
  readonly factors: readonly AppliedFactor[];
  readonly policyVersion: string;
  /** What the assessment was made on; absent in events recorded before risk read the live resource. */
  readonly basis?: RiskBasis;
}
export type Authority = 'team-lead' | 'finops-manager' | 'change-board';
export type ApprovalDecision =
  | { readonly mode: 'auto' }
  | {
      readonly mode: 'manual';
      readonly authority: Authority;
      readonly requiredApprovals: number;
      readonly expiresInMs: number;
      /** Who may decide, when the policy has a roster (see roster.ts); absent: anyone. */
      readonly eligibleApprovers?: readonly EligibleApprover[];
    };

// ── Execution steps (data; the executor service performs them through the Ec2Gateway port) ──
/** A value produced by an earlier step, e.g. the snapshot id created before a delete. */
export type StepOutputs = Readonly<Record<string, string>>;

export type Step =
  | { readonly kind: 'stop-instance'; readonly instanceId: string }
  | { readonly kind: 'wait-instance-stopped'; readonly instanceId: string }
  | { readonly kind: 'modify-instance-type'; readonly instanceId: string; readonly instanceType: string }
  | { readonly kind: 'start-instance'; readonly instanceId: string }
  | { readonly kind: 'wait-instance-running'; readonly instanceId: string }
  | { readonly kind: 'modify-volume'; readonly volumeId: string; readonly volumeType: string; readonly iops?: number; readonly throughput?: number }
  | { readonly kind: 'create-snapshot'; readonly volumeId: string; readonly description: string; readonly tags: Readonly<Record<string, string>> }
  | { readonly kind: 'wait-snapshot-completed'; readonly snapshotFrom: 'create-snapshot' }
  | { readonly kind: 'delete-volume'; readonly volumeId: string }
  | {
      readonly kind: 'create-volume-from-snapshot';
      readonly snapshotFrom: 'create-snapshot';
      readonly availabilityZone: string;
      readonly volumeType: string;
      readonly sizeGiB: number;
      readonly iops?: number;
      readonly throughput?: number;
      readonly tags: Readonly<Record<string, string>>;
    }
  | { readonly kind: 'delete-snapshot'; readonly snapshotId: string }
  | { readonly kind: 'release-address'; readonly allocationId: string }
  | {
      readonly kind: 'allocate-address';
      readonly publicIp: string;
      /**
       * The tags the released address had, as pre-validation observed them, within EC2's limit (plans.ts' `restoredTags`);
       * absent when it had none, and in steps recorded before the rollback gave them back.
       */
      readonly tags?: Readonly<Record<string, string>>;
    }
  | { readonly kind: 'purchase-reserved-instances'; readonly offeringId: string; readonly instanceCount: number; readonly limitPrice?: number }
  | { readonly kind: 'list-reserved-instances'; readonly reservedInstancesFrom: 'purchase-reserved-instances'; readonly instanceCount: number; readonly price: number };
export type StepKind = Step['kind'];
/** Steps that change nothing (waits): skipped in dry runs, no rollback needed. */
export const NON_MUTATING_STEPS: ReadonlySet<StepKind> = new Set(['wait-instance-stopped', 'wait-instance-running', 'wait-snapshot-completed']);

export type Reversibility = 'yes' | 'partial' | 'no';

/** What pre-validation saw of the live resource: the input of the execution and rollback plans. */
/** Whether EC2 offers an instance type at a location (`DescribeInstanceTypeOfferings`), as pre-validation observed it. */
export interface InstanceTypeOffering {
  readonly instanceType: string;
  /** The zone asked about (the instance's), or the region when the zone was not known. */
  readonly location: string;
  readonly offered: boolean;
}

export type ObservedResource =
  | {
      readonly kind: 'instance';
      readonly id: string;
      readonly instanceType: string;
      readonly state: string;
      readonly tags: Readonly<Record<string, string>>;
      readonly cpuP95?: number;
      /**
       * A rightsize's target type, offered or not where the instance lives; observed by pre-validation only (absent
       * elsewhere, in events recorded before it was observed, and when the describe was not allowed).
       */
      readonly targetOffering?: InstanceTypeOffering;
    }
  | {
      readonly kind: 'volume';
      readonly id: string;
      readonly volumeType: string;
      readonly sizeGiB: number;
      readonly iops?: number;
      readonly throughput?: number;
      readonly state: string;
      readonly attachedTo?: string;
      readonly availabilityZone: string;
      readonly tags: Readonly<Record<string, string>>;
      readonly modificationState?: string;
      readonly lastModificationStartedAt?: string;
    }
  | {
      readonly kind: 'snapshot';
      readonly id: string;
      readonly sizeGiB: number;
      readonly state: string;
      readonly usedByImages: readonly string[];
      /** Absent in events recorded before the scope guard read them. */
      readonly tags?: Readonly<Record<string, string>>;
    }
  | {
      readonly kind: 'address';
      readonly allocationId: string;
      readonly publicIp: string;
      readonly associationId?: string;
      /** Absent in events recorded before the scope guard read them. */
      readonly tags?: Readonly<Record<string, string>>;
    }
  | { readonly kind: 'reserved-instances-offering'; readonly offeringId: string; readonly instanceType: string; readonly fixedPrice: number; readonly recurringHourly: number; readonly durationSeconds: number };

/** An instance's performance over a window; each figure `undefined` when the metrics source had no data. */
export interface PerformanceFigures {
  /** CPUUtilization p95, percent. */
  readonly cpuP95?: number;
  /** The CloudWatch agent's `mem_used_percent` (namespace CWAgent), highest in the window. */
  readonly memoryUsedPct?: number;
  /** NetworkIn / NetworkOut summed over the window, per second. */
  readonly networkInBytesPerSec?: number;
  readonly networkOutBytesPerSec?: number;
  /** StatusCheckFailed: `true` when every check passed in the window. */
  readonly statusChecksPassed?: boolean;
}

export const PERFORMANCE_METRICS = ['cpu-p95', 'memory-used', 'network-in', 'network-out', 'status-checks'] as const;

/** One metric before and after a change, and what the policy makes of it. */
export interface MetricComparison {
  readonly metric: (typeof PERFORMANCE_METRICS)[number];
  readonly before?: number | boolean;
  readonly after?: number | boolean;
  /** `unknown`: no data, neither a pass nor a fail. */
  readonly verdict: 'ok' | 'degraded' | 'unknown';
  /** Whether an unknown counts (memory is not counted where the instance never published it). */
  readonly counts: boolean;
  readonly detail: string;
}

export interface PerformanceImpact {
  readonly cpuP95Before?: number;
  readonly cpuP95After?: number;
  readonly statusChecksPassed?: boolean;
  /** The window the "after" figures were read over (from the end of the change, after the soak). */
  readonly afterWindow?: { readonly from: string; readonly to: string };
  readonly soakMinutes?: number;
  /** Each metric before and after (a rightsize; absent in events recorded before it). */
  readonly comparison?: readonly MetricComparison[];
  /** `unknown` when a metric that counts had no data: neither a pass nor a fail. */
  readonly verdict: 'ok' | 'degraded' | 'unknown';
}
