import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { Readable } from 'node:stream';
import { dirname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import {
  withoutByteOrderMark,
  ANALYZER_FORMATS,
  AnalyzerFormatError,
  intakeRecord,
  translateAnalyzerDocument,
  type AnalyzerFormat,
  type Recommendation,
  type Skip,
} from '@optex/domain';
import { intakeLimitsFromEnv, UsageError } from '@optex/runtime';
import { runCommand, submitCommand, type Io, type RunFlags } from './commands';
import { safe, table, toJson } from './format';

export interface ImportFlags extends RunFlags {
  readonly from?: string;
  readonly action?: string;
  readonly account?: string;
  readonly region?: string;
  readonly metadata?: string;
  readonly addresses?: string;
  /** `-o`: the recommendations as NDJSON. */
  readonly out?: string;
  readonly submit?: boolean;
  readonly run?: boolean;
}

/** A translated record the intake refused: reported, never written. */
export interface ImportRejection {
  readonly itemRef: string;
  readonly recommendationId: string;
  readonly errors: readonly string[];
}

export interface ImportResult {
  readonly recommendations: Recommendation[];
  readonly skipped: Skip[];
  readonly rejected: ImportRejection[];
  readonly counts: { items: number; recommendations: number; skipped: number; rejected: number; skippedByCode: Record<string, number> };
  /** Set when the document is one page of several (its `nextToken`): the other pages' items are not imported. */
  readonly partial?: { readonly nextToken: string };
}

type Wrap = <A extends unknown[]>(fn: (...args: A) => Promise<number>) => (...args: A) => Promise<void>;

/**
 * Adds `import --from SOURCE FILE`: translates an analyzer's own document into recommendations, checks each with the
 * intake, and writes them (`-o`), publishes them (`--submit`) or runs them (`--run`, with `run`'s flags).
 * `engineFlags` adds `run`'s flags; `wrap` turns the exit code into the process's.
 */
export function registerImportCommand(program: Command, io: Io, engineFlags: (cmd: Command) => Command, wrap: Wrap): void {
  const cmd = program
    .command('import')
    .description(`translate an analyzer's document into recommendations (${ANALYZER_FORMATS.join(', ')}) and write, submit or run them`)
    .argument('<file>', 'the native document (JSON; Compute Optimizer exports may be CSV); - reads stdin')
    .addOption(new Option('--from <source>', 'the analyzer').choices([...ANALYZER_FORMATS]))
    .option('--action <action>', "Cloud Custodian: the action to take (optex's, e.g. delete-volume, or the policy's, e.g. delete)")
    .option('--account <id>', 'account id where the document and its ARNs do not say')
    .option('--region <region>', 'region where the document and its ARNs do not say')
    .option('--metadata <file>', "Cloud Custodian: the run's metadata.json (default: for FILE named …resources.json, the …metadata.json beside it, if there)")
    .option('--addresses <file>', 'Trusted Advisor: an `aws ec2 describe-addresses` output, to find the allocation id of each flagged Elastic IP')
    .option('-o, --out <file>', 'write the recommendations as NDJSON to this file')
    .option('--submit', 'publish them to optex.recommendations.v1 (needs --bus kafka://…)')
    .option('--run', 'ingest and process them like `run` (same flags)');
  engineFlags(cmd).action(wrap((file: string, flags: ImportFlags) => importCommand(io, file, flags)));
}

export async function importCommand(io: Io, file: string, flags: ImportFlags): Promise<number> {
  const format = flags.from as AnalyzerFormat | undefined;
  if (format === undefined) throw new UsageError(`--from: required, one of ${ANALYZER_FORMATS.join(', ')}`);
  if (flags.submit && flags.run) throw new UsageError('--submit and --run: choose one');
  if (flags.submit && !flags.bus.startsWith('kafka://')) throw new UsageError(`--submit needs --bus kafka://HOST:PORT, got ${JSON.stringify(flags.bus)}`);
  if (flags.account !== undefined && !/^\d{12}$/.test(flags.account)) throw new UsageError(`--account: expected 12 digits, got ${JSON.stringify(flags.account)}`);
  if (flags.action !== undefined && format !== 'custodian') throw new UsageError('--action: only for --from custodian');
  const limits = intakeLimitsFromEnv();
  const document = await readDocument(file, limits.maxFileBytes, io.stdin ?? process.stdin);
  const metadata = await readMetadata(format, file, flags.metadata, limits.maxFileBytes);
  const allocationIds = flags.addresses === undefined ? undefined : await readAddresses(format, flags.addresses, limits.maxFileBytes);
  let translation;
  try {
    translation = translateAnalyzerDocument(
      format,
      { document, ...(metadata === undefined ? {} : { metadata }) },
      { ...(flags.action ? { action: flags.action } : {}), ...(flags.account ? { accountId: flags.account } : {}), ...(flags.region ? { region: flags.region } : {}), ...(allocationIds ? { allocationIds } : {}) },
    );
  } catch (error) {
    if (error instanceof AnalyzerFormatError) throw new UsageError(`${nameOf(file)}: ${error.message}`);
    throw error;
  }
  const result = { ...checked(translation.recommendations, translation.skipped, limits), ...(translation.partial ? { partial: translation.partial } : {}) };
  // One page of several: said on stderr in text (--json carries `partial`); the import itself goes on.
  if (result.partial && !flags.json) io.err(partialWarning(nameOf(file), result.partial.nextToken));
  const ndjson = result.recommendations.map((r) => JSON.stringify(r)).join('\n') + (result.recommendations.length > 0 ? '\n' : '');
  if (flags.out) await writeOutput(flags.out, ndjson);

  if (flags.run || flags.submit) {
    const dir = await mkdtemp(join(tmpdir(), 'optex-import-'));
    try {
      const input = join(dir, 'recommendations.ndjson');
      await writeFile(input, ndjson);
      let captured = '';
      const inner: Io = { ...io, out: (text) => (captured += text) };
      const code = flags.run ? await runCommand(inner, input, flags) : await submitCommand(inner, input, { bus: flags.bus, json: flags.json, dryRun: flags.dryRun });
      if (flags.json) io.out(toJson({ ...result, [flags.run ? 'run' : 'submit']: JSON.parse(captured) as unknown }));
      else io.out(`${importText(result, flags.out, flags.wide ?? false)}\n\n${captured}`);
      return code;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  io.out(flags.json ? toJson(result) : importText(result, flags.out, flags.wide ?? false));
  return 0;
}

/** Each translated record through the intake (the same check `run` and the risk-assessor make). */
function checked(recommendations: readonly Recommendation[], skips: readonly Skip[], limits: ReturnType<typeof intakeLimitsFromEnv>): ImportResult {
  const accepted: Recommendation[] = [];
  const rejected: ImportRejection[] = [];
  for (const rec of recommendations) {
    const outcome = intakeRecord(Buffer.from(JSON.stringify(rec), 'utf8'), limits);
    if (outcome.ok) accepted.push(rec);
    else rejected.push({ itemRef: rec.resource.id, recommendationId: rec.recommendationId, errors: outcome.errors.map((e) => e.message) });
  }
  const skippedByCode: Record<string, number> = {};
  for (const s of skips) skippedByCode[s.code] = (skippedByCode[s.code] ?? 0) + 1;
  return {
    recommendations: accepted,
    skipped: [...skips],
    rejected,
    counts: { items: recommendations.length + skips.length, recommendations: accepted.length, skipped: skips.length, rejected: rejected.length, skippedByCode },
  };
}

/** The warning that a document is one page of a paginated response. */
export const partialWarning = (file: string, nextToken: string): string =>
  `warning: ${safe(file)} is one page of several (nextToken ${safe(JSON.stringify(nextToken))}): only its items are imported; fetch and import the other pages too (or let the AWS CLI paginate: no --max-items, no --no-paginate)`;

function importText(r: ImportResult, out: string | undefined, wide: boolean): string {
  const c = r.counts;
  const lines = [
    `${c.items} items: ${c.recommendations} recommendations, ${c.skipped} skipped, ${c.rejected} rejected by the intake${out ? ` (written to ${safe(out)})` : ''}`,
  ];
  for (const [code, n] of Object.entries(c.skippedByCode)) lines.push(`  skipped ${code}: ${n}`);
  if (r.skipped.length > 0) lines.push('', table(['ITEM', 'SKIPPED', 'REASON'], r.skipped.map((s) => [s.itemRef, s.code, s.reason]), { wide }));
  if (r.rejected.length > 0) lines.push('', table(['ITEM', 'RECOMMENDATION', 'REJECTED'], r.rejected.map((x) => [x.itemRef, x.recommendationId, x.errors.join('; ')]), { wide }));
  return lines.join('\n');
}

async function readText(file: string, maxBytes: number, what: string): Promise<string> {
  try {
    const info = await stat(file);
    if (info.isDirectory()) throw new UsageError(`cannot read ${what} ${file}: is a directory`);
    if (info.size > maxBytes) throw new UsageError(`${file} is ${info.size} bytes, more than the input limit of ${maxBytes} (OPTEX_MAX_FILE_BYTES)`);
    return withoutByteOrderMark(await readFile(file, 'utf8'));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${what} ${file}: ${code === 'ENOENT' ? 'no such file' : (code ?? (error as Error).message)}`);
  }
}

/** How messages name the input: `-` is stdin. */
const nameOf = (file: string): string => (file === '-' ? 'stdin' : file);

/** All of `stream` as text (a byte-order mark dropped), refused as soon as it passes `maxBytes`. */
async function readStdin(stream: Readable, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk), 'utf8');
    size += bytes.length;
    if (size > maxBytes) throw new UsageError(`stdin is more than the input limit of ${maxBytes} bytes (OPTEX_MAX_FILE_BYTES)`);
    chunks.push(bytes);
  }
  return withoutByteOrderMark(Buffer.concat(chunks).toString('utf8'));
}

/** JSON, or the text itself when it is not JSON-looking (the CSV exports); `-` reads stdin. */
async function readDocument(file: string, maxBytes: number, stdin: Readable): Promise<unknown> {
  const text = file === '-' ? await readStdin(stdin, maxBytes) : await readText(file, maxBytes, 'input');
  const trimmed = text.trimStart();
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(`unreadable input ${nameOf(file)}: not JSON (${(error as Error).message})`);
  }
}

async function readJson(file: string, maxBytes: number, what: string): Promise<unknown> {
  const text = await readText(file, maxBytes, what);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(`unreadable ${what} ${file}: not JSON (${(error as Error).message})`);
  }
}

/** Custodian's metadata.json: `--metadata`, else the one its run wrote beside resources.json (`x.resources.json` → `x.metadata.json`). */
async function readMetadata(format: AnalyzerFormat, file: string, metadataFile: string | undefined, maxBytes: number): Promise<unknown> {
  if (metadataFile !== undefined && format !== 'custodian') throw new UsageError('--metadata: only for --from custodian');
  if (format !== 'custodian') return undefined;
  const beside = file.endsWith('resources.json') ? `${file.slice(0, -'resources.json'.length)}metadata.json` : undefined;
  const chosen = metadataFile ?? (beside !== undefined && existsSync(beside) ? beside : undefined);
  return chosen === undefined ? undefined : readJson(chosen, maxBytes, 'metadata');
}

/** `aws ec2 describe-addresses` output → allocation id by public IP. */
async function readAddresses(format: AnalyzerFormat, file: string, maxBytes: number): Promise<Record<string, string>> {
  if (format !== 'trusted-advisor') throw new UsageError('--addresses: only for --from trusted-advisor');
  const doc = (await readJson(file, maxBytes, 'addresses')) as { Addresses?: { PublicIp?: string; AllocationId?: string }[] };
  if (!Array.isArray(doc?.Addresses)) throw new UsageError(`--addresses: ${file} is not a describe-addresses output (no Addresses list)`);
  return Object.fromEntries(doc.Addresses.filter((a) => a.PublicIp && a.AllocationId).map((a) => [a.PublicIp!, a.AllocationId!]));
}

async function writeOutput(file: string, text: string): Promise<void> {
  try {
    await mkdir(dirname(resolve(file)), { recursive: true });
    await writeFile(file, text);
  } catch (error) {
    throw new UsageError(`-o: cannot write ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}
