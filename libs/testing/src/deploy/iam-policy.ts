import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type * as TypeScript from 'typescript';

let compiler: typeof TypeScript | undefined;
/**
 * The TypeScript compiler, loaded on first use: only the IAM policy check parses source, and every importer of
 * `@optex/testing` (benchmarks measuring their memory among them) would otherwise load its ~9 MB.
 */
function typescript(): typeof TypeScript {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deferred on purpose, see above
  return (compiler ??= require('typescript') as typeof TypeScript);
}

// What deploy/iam/optex-policy.json must grant, found from the code: every AWS SDK command, waiter and paginator the
// runtime code imports (libs/ and apps/, tests and libs/testing excluded), as IAM actions (`ec2:ModifyVolume`). The
// checks below compare that set with the policy both ways; the adapter suites against moto also record the commands
// actually sent ({@link recordSdkCommands}) and check them against the policy, so a command sent some other way fails too.

/** Where the policy lives, relative to the repository root. */
export const OPTEX_POLICY_FILE = 'deploy/iam/optex-policy.json';

/** The IAM service prefix of each AWS SDK client package the code may use. */
export const SDK_CLIENT_SERVICES: Readonly<Record<string, string>> = {
  '@aws-sdk/client-ec2': 'ec2',
  '@aws-sdk/client-cloudwatch': 'cloudwatch',
  '@aws-sdk/client-sts': 'sts',
};

/** The action each SDK waiter polls with (a waiter not listed here is an error: add it). */
export const WAITER_ACTIONS: Readonly<Record<string, string>> = {
  waitUntilInstanceRunning: 'ec2:DescribeInstances',
  waitUntilInstanceStopped: 'ec2:DescribeInstances',
  waitUntilSnapshotCompleted: 'ec2:DescribeSnapshots',
};

/**
 * Actions IAM requires although the code never sends them: tagging on create (`TagSpecifications`) needs
 * `ec2:CreateTags` on the new resource. Granted only for the listed create actions (`ec2:CreateAction`).
 */
export const IMPLIED_ACTIONS: Readonly<Record<string, { readonly by: readonly string[]; readonly createActions: readonly string[] }>> = {
  'ec2:CreateTags': { by: ['ec2:AllocateAddress', 'ec2:CreateSnapshot', 'ec2:CreateVolume'], createActions: ['AllocateAddress', 'CreateSnapshot', 'CreateVolume'] },
};

/**
 * Changing actions that act on no existing resource that could carry the opt-out tag, so the opt-out Deny cannot
 * name them: creations of new resources and the Reserved Instances calls (resource `*` only in IAM).
 */
export const NOT_ON_A_TAGGED_RESOURCE: ReadonlySet<string> = new Set([
  'ec2:AllocateAddress',
  'ec2:CreateVolume',
  'ec2:PurchaseReservedInstancesOffering',
  'ec2:CreateReservedInstancesListing',
]);

/** An action the code uses, and the file that imports it. */
export interface SdkAction {
  readonly action: string;
  readonly file: string;
}

/**
 * The IAM actions one source file's AWS SDK imports stand for: `XxxCommand` → `<service>:Xxx`, `paginateXxx` →
 * `<service>:Xxx`, a waiter → {@link WAITER_ACTIONS}. Type-only imports send nothing and are skipped. Throws on an
 * SDK client package or a waiter it does not know, so a new one cannot slip through unchecked.
 */
export function sdkActionsInSource(text: string, file: string): SdkAction[] {
  const ts = typescript();
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: SdkAction[] = [];
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
    const from = statement.moduleSpecifier.text;
    if (!from.startsWith('@aws-sdk/client-')) continue;
    const service = SDK_CLIENT_SERVICES[from];
    if (service === undefined) throw new Error(`${file} imports ${from}, an AWS SDK client the IAM policy check does not know: add it to SDK_CLIENT_SERVICES`);
    const clause = statement.importClause;
    if (!clause || clause.isTypeOnly) continue;
    const bindings = clause.namedBindings;
    if (bindings && ts.isNamespaceImport(bindings)) throw new Error(`${file} imports ${from} as a namespace: import the commands by name so the IAM policy check can see them`);
    for (const element of bindings && ts.isNamedImports(bindings) ? bindings.elements : []) {
      if (element.isTypeOnly) continue;
      const name = (element.propertyName ?? element.name).text;
      if (name.endsWith('Command')) found.push({ action: `${service}:${name.slice(0, -'Command'.length)}`, file });
      else if (name.startsWith('paginate')) found.push({ action: `${service}:${name.slice('paginate'.length)}`, file });
      else if (name.startsWith('waitUntil') || name.startsWith('waitFor')) {
        const action = WAITER_ACTIONS[name];
        if (action === undefined) throw new Error(`${file} uses the waiter ${name}, which the IAM policy check does not know: add the action it polls with to WAITER_ACTIONS`);
        found.push({ action, file });
      }
    }
  }
  return found;
}

/** Test harnesses shipped in apps/ that set moto up and read its state themselves: not what optex calls on AWS. */
const HARNESSES: readonly string[] = [join('apps', 'optex', 'src', 'stack', 'chaos.ts')];

/** Every runtime source file (`.ts` under libs/ and apps/, without specs, fixtures, libs/testing and the {@link HARNESSES}). */
function runtimeSources(root: string): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const rel = relative(root, path);
      if (entry.isDirectory()) {
        if (entry.name === 'node_modules' || entry.name === '__fixtures__' || rel === join('libs', 'testing')) continue;
        walk(path);
      } else if (HARNESSES.includes(rel)) {
        continue;
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') && !entry.name.endsWith('.d.ts') && !entry.name.endsWith('.fixture.ts')) {
        files.push(path);
      }
    }
  };
  for (const top of ['libs', 'apps']) walk(join(root, top));
  return files;
}

/** Every AWS action the runtime code uses, found by {@link sdkActionsInSource} in each runtime source file. */
export function sdkActionsOfCode(root: string): SdkAction[] {
  return runtimeSources(root).flatMap((path) => sdkActionsInSource(readFileSync(path, 'utf8'), relative(root, path)));
}

interface Statement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
}
/** An IAM policy document, as far as these checks read it. */
export interface IamPolicy {
  readonly Version: string;
  readonly Statement: readonly Statement[];
}

const list = <T>(value: T | readonly T[] | undefined): readonly T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value as T]);

/** The opt-out tag as the policy must deny it: the scope guard's default (`optex:skip=true`). */
export interface OptOutTag {
  readonly key: string;
  readonly value: string;
}

/**
 * What is wrong with `policy` for code that uses `called`: an action used but not granted; an action granted but never
 * used (least privilege; {@link IMPLIED_ACTIONS} are granted only with their condition, and only when an action that
 * implies them is used); a wildcard action; a changing action on existing resources that the opt-out Deny statement
 * does not name, or a Deny without the `aws:ResourceTag/<key>` condition. Empty = fine.
 */
export function iamPolicyProblems(policy: IamPolicy, called: ReadonlySet<string>, optOut: OptOutTag): string[] {
  const problems: string[] = [];
  if (policy.Version !== '2012-10-17') problems.push(`Version must be "2012-10-17", got ${JSON.stringify(policy.Version)}`);
  const allows = policy.Statement.filter((s) => s.Effect === 'Allow');
  const granted = new Set(allows.flatMap((s) => list(s.Action)));
  for (const action of granted) if (action.includes('*')) problems.push(`${action}: a wildcard grants more than optex calls; list the actions`);
  for (const action of [...called].sort()) if (!granted.has(action)) problems.push(`${action}: the code calls it and the policy does not grant it`);
  for (const action of [...granted].sort()) {
    if (called.has(action)) continue;
    const implied = IMPLIED_ACTIONS[action];
    if (implied === undefined) {
      problems.push(`${action}: granted, but the code never calls it`);
      continue;
    }
    if (!implied.by.some((a) => called.has(a))) problems.push(`${action}: granted for ${implied.by.join(', ')}, none of which the code calls`);
    for (const s of allows.filter((st) => list(st.Action).includes(action))) {
      const createActions = list(s.Condition?.['StringEquals']?.['ec2:CreateAction']);
      if ([...createActions].sort().join() !== [...implied.createActions].sort().join()) {
        problems.push(`${action}: must be granted only with "StringEquals": {"ec2:CreateAction": ${JSON.stringify(implied.createActions)}} (statement ${s.Sid ?? '?'})`);
      }
      if (list(s.Action).length !== 1) problems.push(`${action}: its conditional grant must be a statement of its own (statement ${s.Sid ?? '?'})`);
    }
  }
  const conditionKey = `aws:ResourceTag/${optOut.key}`;
  const denies = policy.Statement.filter(
    (s) => s.Effect === 'Deny' && list(s.Condition?.['StringEqualsIgnoreCase']?.[conditionKey]).includes(optOut.value) && list(s.Resource).includes('*'),
  );
  if (denies.length === 0) problems.push(`no Deny statement with "StringEqualsIgnoreCase": {"${conditionKey}": "${optOut.value}"} on Resource "*"`);
  const denied = new Set(denies.flatMap((s) => list(s.Action)));
  const changing = [...called].filter((a) => !/^[a-z0-9]+:(Describe|Get|List)/.test(a) && !NOT_ON_A_TAGGED_RESOURCE.has(a)).sort();
  if (denies.length > 0) {
    for (const action of changing) if (!denied.has(action)) problems.push(`${action}: changes an existing resource but the opt-out Deny does not name it`);
    for (const action of [...denied].sort()) if (!changing.includes(action)) problems.push(`${action}: in the opt-out Deny, but not a changing action the code calls on existing resources`);
  }
  return problems;
}

/** The commands an SDK client sends, recorded as IAM actions (`<service>:<Command without "Command">`) into `into`. */
export function recordSdkCommands<C extends { middlewareStack: { add(middleware: unknown, options: unknown): void } }>(client: C, service: string, into: Set<string>): C {
  const middleware =
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
    (args: unknown): Promise<unknown> => {
      into.add(`${service}:${String(context.commandName).replace(/Command$/, '')}`);
      return next(args);
    };
  client.middlewareStack.add(middleware, { step: 'initialize', name: 'optexRecordIamActions' });
  return client;
}

/** Reads {@link OPTEX_POLICY_FILE} under `root`. */
export function readOptexPolicy(root: string): IamPolicy {
  return JSON.parse(readFileSync(join(root, OPTEX_POLICY_FILE), 'utf8')) as IamPolicy;
}

/**
 * The recorded actions (see {@link recordSdkCommands}) that the code scan did not find or the policy does not grant,
 * each with what is missing. Empty = every command an adapter actually sent is covered.
 */
export function sentButNotCovered(sent: ReadonlySet<string>, root: string): string[] {
  const found = new Set(sdkActionsOfCode(root).map((a) => a.action));
  const granted = new Set(readOptexPolicy(root).Statement.filter((s) => s.Effect === 'Allow').flatMap((s) => list(s.Action)));
  const problems: string[] = [];
  for (const action of [...sent].sort()) {
    if (!found.has(action)) problems.push(`${action}: sent, but the scan of the code's SDK imports did not find it`);
    if (!granted.has(action)) problems.push(`${action}: sent, but ${OPTEX_POLICY_FILE} does not grant it`);
  }
  return problems;
}
