import { createWriteStream, openSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { once } from 'node:events';
import { basename, dirname, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { AWS_REGIONS, DomainError, OPTIMIZATION_STREAM_PREFIX, STORED_EVENT_TYPES, isKnownRegion, optimizationStateAt, optimizationStream, usdText, viewOf, type StateAt } from '@optex/domain';
import type { EventStore, RecordedEvent } from '@optex/ports';
import { ANCHOR_EVENT_TYPE, ANCHOR_STREAM, recordAnchor, verifyLog, type AuditAnchor, type VerifyOptions, type VerifyReport } from '@optex/event-store';
import { UsageError } from '@optex/runtime';
import { safe, table, toJson } from './format';
import { NotFound, openExistingStore, resolveId, type Io } from './commands';
import { timeFlag } from './time-flag';
import { drained, failedOrGone } from './output-stream';

/**
 * `--expect POSITION:DIGEST` (repeatable): digests of the log kept outside it, as `anchor` and `verify` print them.
 * @throws UsageError naming the value that is not one (exit 2).
 */
function expectFlag(values: readonly string[] | undefined): NonNullable<VerifyOptions['expect']> {
  return (values ?? []).map((value) => {
    const match = /^(\d{1,20}):([0-9a-fA-F]{64})$/.exec(value.trim());
    if (!match) throw new UsageError(`--expect: expected POSITION:DIGEST as anchor and verify print them (a decimal position, 64 hex digits), got ${JSON.stringify(value)}`);
    return { position: BigInt(match[1]), digest: match[2].toLowerCase() };
  });
}

/** What to keep outside the log, and how to check the log against it later. */
const keepLine = (a: Pick<AuditAnchor, 'throughCommit' | 'digest'>): string =>
  `Keep it outside the log (a ticket, a write-once bucket) and check the log against it later with: optex verify --expect ${a.throughCommit}:${a.digest}`;

/**
 * `verify [--stream S] [--expect POSITION:DIGEST]…`: recomputes the hash chains (and, over the whole log, the anchors,
 * the digests expected and, on SQLite, whether positions were written past the last event); exit 1 naming the first
 * problem. A whole log that verifies prints its digest (what an anchor would record now) to keep outside it.
 */
export async function verifyCommand(io: Io, flags: { store: string; stream?: string; expect?: string[]; json?: boolean }): Promise<number> {
  const expect = expectFlag(flags.expect);
  if (expect.length > 0 && flags.stream !== undefined) throw new UsageError('--expect: a digest covers the whole log; drop --stream');
  const store = await openExistingStore(flags.store);
  try {
    const target = flags.stream === undefined ? undefined : await streamToVerify(store, flags.stream);
    const started = Date.now();
    const report = await verifyLog(store, {
      ...(target !== undefined ? { stream: target.stream } : {}),
      ...(expect.length > 0 ? { expect } : {}),
      ...(process.stderr.isTTY ? { onProgress: (n: number) => process.stderr.write(`\rverified ${n.toLocaleString('en-US')} events …`) } : {}),
    });
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
    const warnings = target === undefined && report.anchors.total === 0 ? [NO_ANCHOR_WARNING] : [];
    if (flags.json) {
      io.out(toJson({ ...report, ...(target !== undefined ? { stream: target.stream } : {}), ...(target?.resolvedFrom !== undefined ? { resolvedFrom: target.resolvedFrom } : {}), ...(warnings.length > 0 ? { warnings } : {}) }));
    } else {
      const lines: string[] = [];
      if (target?.resolvedFrom !== undefined) lines.push(`No stream is named ${safe(target.resolvedFrom)}; it names optimization ${target.stream.slice(OPTIMIZATION_STREAM_PREFIX.length)}: verifying its stream ${safe(target.stream)}.`);
      lines.push(verifyText(report, target?.stream, Date.now() - started));
      if (report.logDigest) lines.push(`Log digest through position ${report.logDigest.throughCommit} (${report.logDigest.events} events): ${report.logDigest.digest}`, keepLine(report.logDigest));
      for (const w of warnings) lines.push(`WARNING: ${w}`);
      io.out(lines.join('\n'));
    }
    return report.ok ? 0 : 1;
  } finally {
    await store.close();
  }
}

/** Why a whole-log verify without any anchor is weaker than it looks. */
const NO_ANCHOR_WARNING =
  'the log holds no anchor, so the removal of a whole stream (or of the last events of a stream) cannot be detected; run optex anchor (run and resume anchor when they stop) and keep the digest it prints outside the log, to give back to verify --expect';

/**
 * The stream `verify --stream S` checks: S when the log has it; else the stream of the one optimization S names (an
 * id, a unique prefix or a recommendation id, as other commands resolve them), said so; else not found (exit 1).
 */
async function streamToVerify(store: EventStore, stream: string): Promise<{ stream: string; resolvedFrom?: string }> {
  if ((await store.readStream(stream, { maxCount: 1 })).length > 0) return { stream };
  let optimizationId: string;
  try {
    optimizationId = await resolveId(store, stream);
  } catch (error) {
    if (error instanceof NotFound) throw new NotFound(`--stream: the log has no stream ${stream}, and no optimization id, unique prefix or recommendation id is ${stream} either`);
    throw error;
  }
  const resolved = optimizationStream(optimizationId);
  if ((await store.readStream(resolved, { maxCount: 1 })).length === 0) throw new NotFound(`--stream: the log has no stream ${stream}, nor ${resolved}`);
  return { stream: resolved, resolvedFrom: stream };
}

function verifyText(r: VerifyReport, stream: string | undefined, ms: number): string {
  const anchored = r.anchors.total > 0;
  const expected = r.expected ? `, ${r.expected.checked} of ${r.expected.total} expected digests` : '';
  const what = stream === undefined ? `${r.events} events in ${r.streams} streams, ${anchored ? `${r.anchors.checked} of ${r.anchors.total} anchors` : 'no anchor'}${expected}` : `${r.events} events of stream ${safe(stream)}`;
  if (r.ok) {
    const holds = ['every hash chain is intact', ...(stream === undefined && anchored ? ['every anchor matches'] : []), ...(r.expected ? ['every expected digest matches'] : [])];
    return `OK: ${what} verified in ${(ms / 1000).toFixed(1)} s; ${holds.length > 1 ? `${holds.slice(0, -1).join(', ')} and ${holds[holds.length - 1]}` : holds[0]}.`;
  }
  const f = r.failure as NonNullable<VerifyReport['failure']>;
  const lines = [`FAILED (${f.problem}): ${safe(f.message)}`];
  if (f.event) lines.push(`  first event that does not match: ${safe(f.event.stream)}@${f.event.revision}  ${safe(f.event.type)}  id ${safe(f.event.id)}  position ${f.event.position}  recorded ${f.event.recordedAt}`);
  lines.push(`  checked before it: ${what}`);
  return lines.join('\n');
}

/**
 * `anchor`: fixes the digest of the whole log so far; prints the latest anchor's position and digest (the one
 * recorded now, or the last one when no event came after it) to keep outside the log. A last anchor that was edited or
 * is none is refused (exit 1, one line naming it: `recordAnchor`'s DomainError).
 */
export async function anchorCommand(io: Io, flags: { store: string; json?: boolean }): Promise<number> {
  const store = await openExistingStore(flags.store);
  try {
    const recorded = await recordAnchor(store);
    // Nothing new: the last anchor (recordAnchor has just checked it) already covers the log.
    const anchor = recorded ?? ((await store.readStream(ANCHOR_STREAM, { direction: 'backwards', maxCount: 1 }))[0]?.data as AuditAnchor | undefined);
    if (flags.json) io.out(toJson({ recorded: recorded !== undefined, anchor: anchor ?? null, expect: anchor ? `${anchor.throughCommit}:${anchor.digest}` : null }));
    else if (!anchor) io.out('Nothing to anchor: the log holds no event yet.');
    else io.out(`${recorded ? 'Anchored' : 'Nothing new to anchor: the last anchor fixes'} ${anchor.events} events up to position ${anchor.throughCommit}: digest ${anchor.digest}\n${keepLine(anchor)}`);
    return 0;
  } finally {
    await store.close();
  }
}

/** `state ID --at TIME`: the optimization as it was at that instant (its stream folded up to the last event recorded by then). */
export async function stateCommand(io: Io, id: string, flags: { store: string; at?: string; json?: boolean; wide?: boolean }): Promise<number> {
  const at = timeFlag('--at', flags.at) ?? new Date();
  const store = await openExistingStore(flags.store);
  try {
    const optimizationId = await resolveId(store, id);
    const events = await store.readStream(optimizationStream(optimizationId));
    if (events.length === 0) throw new NotFound(`no optimization ${id} in this store`);
    let folded: StateAt;
    try {
      folded = optimizationStateAt(events, at);
    } catch (error) {
      // A stream that does not fold (an event out of place, a type or schema this optex does not know): say what, no stack.
      if (error instanceof DomainError) {
        io.err(`optex state: cannot show optimization ${optimizationId} at ${at.toISOString()}: ${safe(error.message)}`);
        return 1;
      }
      throw error;
    }
    const { state, applied, after, asOf } = folded;
    if (flags.json) {
      io.out(toJson({ optimizationId, at: at.toISOString(), asOf, eventsApplied: applied, eventsAfter: after, state, view: state.status === 'initial' ? null : viewOf(state) }));
      return 0;
    }
    if (!asOf || state.status === 'initial') {
      io.out(`At ${at.toISOString()} optimization ${optimizationId} did not exist yet: its first event was recorded at ${events[0].recordedAt.toISOString()}.`);
      return 0;
    }
    const v = viewOf(state);
    io.out(
      [
        `Optimization ${optimizationId} at ${at.toISOString()} (after event ${asOf.revision}, ${safe(asOf.type)}, recorded ${asOf.recordedAt}; ${after} later events not applied):`,
        '',
        table(
          ['FIELD', 'VALUE'],
          [
            ['status', v.status],
            ['action', `${v.action} of ${v.resourceId}`],
            ['risk', v.risk ?? '—'],
            ['approval', v.approval ?? '—'],
            ['dry run', v.dryRun ? 'yes' : 'no'],
            ['estimated savings', `${usdText(v.estimatedMonthlySavings)}/month`],
            ['actual savings', v.actualMonthlySavings === null ? '—' : `${usdText(v.actualMonthlySavings)}/month`],
            ['rolled back', v.rolledBack ? 'yes' : 'no'],
            ['error', v.error ?? '—'],
          ],
          { wide: flags.wide ?? false },
        ),
      ].join('\n'),
    );
    return 0;
  } finally {
    await store.close();
  }
}

export const EXPORT_FORMATS = ['ndjson', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportFlags {
  readonly store: string;
  readonly format: string;
  readonly from?: string;
  readonly to?: string;
  readonly type?: string;
  readonly account?: string;
  readonly region?: string;
  readonly resource?: string;
  readonly optimization?: string;
  readonly output?: string;
}

/** Where an optimization is: learned from the first event of its stream (the recommendation it received). */
interface Place {
  readonly accountId: string;
  readonly region: string;
  readonly resourceId: string;
}

/** One exported event: where it is in the log, what it is, which optimization/account/region/resource it concerns. */
export interface ExportRow {
  readonly position: string;
  readonly recordedAt: string;
  readonly stream: string;
  readonly revision: string;
  readonly id: string;
  readonly type: string;
  readonly optimizationId: string | null;
  readonly accountId: string | null;
  readonly region: string | null;
  readonly resourceId: string | null;
  readonly data: unknown;
  readonly metadata: Record<string, unknown>;
}

const CSV_COLUMNS = ['position', 'recordedAt', 'stream', 'revision', 'id', 'type', 'optimizationId', 'accountId', 'region', 'resourceId', 'data', 'metadata'] as const;

/**
 * A cell a spreadsheet would read as a formula (OWASP, CSV injection): one that starts with `=`, `+`, `-`, `@`, a tab
 * or a carriage return. `=HYPERLINK(…)` in a resource id must stay text when an auditor opens the export.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV cell: RFC 4180 (a field with a comma, quote, CR or LF is quoted, quotes doubled), and a cell a spreadsheet
 * would take for a formula neutralised as OWASP says: a single quote before it, inside a quoted field
 * (`-2+3` → `"'-2+3"`). NDJSON carries every value as it is.
 */
export function csvField(value: unknown): string {
  const raw = value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  const formula = FORMULA_START.test(raw);
  const text = formula ? `'${raw}` : raw;
  return formula || /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * Every event type `replay --type` accepts: the ones optex stores, its audit anchors, and the webhook notifier's
 * checkpoints (the relay's are never exported).
 */
export const EXPORTABLE_EVENT_TYPES: readonly string[] = [...STORED_EVENT_TYPES, ANCHOR_EVENT_TYPE, 'NotifierCheckpointReached'];

/** `--type A,B`: each an exact event type name (a wrong case is refused, suggesting the right one). */
function typesFlag(value: string | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  const types = new Set(value.split(',').map((t) => t.trim()).filter((t) => t.length > 0));
  if (types.size === 0) throw new UsageError('--type: expected one or more event types separated by commas');
  for (const type of types) {
    if (EXPORTABLE_EVENT_TYPES.includes(type)) continue;
    const near = EXPORTABLE_EVENT_TYPES.find((t) => t.toLowerCase() === type.toLowerCase());
    throw new UsageError(
      `--type: unknown event type ${JSON.stringify(type)}${near ? ` (did you mean ${near}? names are case-sensitive)` : ''}; the event types are ${EXPORTABLE_EVENT_TYPES.join(', ')}`,
    );
  }
  return types;
}

/** `--region R`: an AWS region of the catalog (`libs/domain/src/aws-catalog.ts`). */
function regionFlag(value: string | undefined): string | undefined {
  if (value === undefined || isKnownRegion(value)) return value;
  const near = AWS_REGIONS.find((r) => r === value.trim().toLowerCase());
  throw new UsageError(`--region: ${JSON.stringify(value)} is not an AWS region${near ? ` (did you mean ${near}?)` : ''}; the regions are ${AWS_REGIONS.join(', ')}`);
}

/** The export's filters and output: flags that mean nothing to `replay` without `--format`. */
export const EXPORT_ONLY_FLAGS = ['from', 'to', 'type', 'account', 'region', 'resource', 'optimization', 'output'] as const;

/**
 * Refuses (exit 2) a `replay` whose flags contradict each other: export filters without `--format` (they would be
 * ignored, and the whole log folded), and `--format` with `--json` (stdout would hold CSV or NDJSON, not one JSON
 * document).
 */
export function checkReplayFlags(flags: Partial<Record<(typeof EXPORT_ONLY_FLAGS)[number] | 'format', string>> & { json?: boolean }): void {
  if (flags.format === undefined) {
    const given = EXPORT_ONLY_FLAGS.filter((f) => flags[f] !== undefined).map((f) => `--${f}`);
    if (given.length > 0) {
      throw new UsageError(`${given.join(', ')}: ${given.length === 1 ? 'filters or redirects' : 'filter or redirect'} the export only: add --format ndjson or --format csv (replay without --format folds the whole log)`);
    }
  } else if (flags.json) {
    throw new UsageError(`--json: replay --format ${flags.format} writes ${flags.format === 'csv' ? 'CSV' : 'NDJSON'}, not one JSON document; drop --json (--format ndjson gives one JSON object per line)`);
  }
}

function placeOf(first: RecordedEvent): Place | undefined {
  const rec = (first.data as { recommendation?: { accountId?: unknown; region?: unknown; resource?: { id?: unknown } } } | null)?.recommendation;
  if (!rec || typeof rec.accountId !== 'string' || typeof rec.region !== 'string' || typeof rec.resource?.id !== 'string') return undefined;
  return { accountId: rec.accountId, region: rec.region, resourceId: rec.resource.id };
}

/**
 * Streams the log's events that pass the filters as rows, in `$all` order. Memory holds one place per optimization
 * (to filter later events of its stream by account, region and resource), never the events.
 */
export async function* exportRows(store: EventStore, filter: { from?: Date; to?: Date; types?: ReadonlySet<string>; account?: string; region?: string; resource?: string; optimization?: string }): AsyncGenerator<ExportRow> {
  const places = new Map<string, Place | null>();
  const byPlace = filter.account !== undefined || filter.region !== undefined || filter.resource !== undefined;
  for await (const e of store.readAll()) {
    if (e.stream.startsWith('relay-checkpoint-') || e.stream.startsWith('$')) continue;
    const optimizationId = e.stream.startsWith(OPTIMIZATION_STREAM_PREFIX) ? e.stream.slice(OPTIMIZATION_STREAM_PREFIX.length) : null;
    let place: Place | null = null;
    if (optimizationId !== null) {
      if (!places.has(optimizationId)) places.set(optimizationId, (e.revision === 0n ? placeOf(e) : undefined) ?? null);
      place = places.get(optimizationId) ?? null;
    }
    if (filter.optimization !== undefined && optimizationId !== filter.optimization) continue;
    if (byPlace) {
      if (!place) continue;
      if (filter.account !== undefined && place.accountId !== filter.account) continue;
      if (filter.region !== undefined && place.region !== filter.region) continue;
      if (filter.resource !== undefined && place.resourceId !== filter.resource) continue;
    }
    if (filter.types && !filter.types.has(e.type)) continue;
    const t = e.recordedAt.getTime();
    if ((filter.from && t < filter.from.getTime()) || (filter.to && t > filter.to.getTime())) continue;
    yield {
      position: e.position.commit.toString(),
      recordedAt: e.recordedAt.toISOString(),
      stream: e.stream,
      revision: e.revision.toString(),
      id: e.id,
      type: e.type,
      optimizationId,
      accountId: place?.accountId ?? null,
      region: place?.region ?? null,
      resourceId: place?.resourceId ?? null,
      data: e.data,
      metadata: e.metadata,
    };
  }
}

/**
 * Writes text to a stream in chunks of about 64 KiB, waiting whenever the stream asks to (bounded memory whatever the
 * size); throws `ReaderGone` (output-stream.ts) once the reader has gone (EPIPE), so the export stops reading the log.
 */
class ChunkedWriter {
  private buffer: string[] = [];
  private size = 0;
  constructor(private readonly out: Writable) {}
  async write(text: string): Promise<void> {
    this.buffer.push(text);
    this.size += text.length;
    if (this.size >= 65_536) await this.flush();
  }
  async flush(): Promise<void> {
    if (this.size === 0) return;
    const chunk = this.buffer.join('');
    this.buffer = [];
    this.size = 0;
    failedOrGone(this.out);
    if (!this.out.write(chunk)) await drained(this.out);
  }
}

/**
 * Where the export goes: stdout, or `--output FILE`. A regular file (or a new one) is written as a temporary file
 * beside it and renamed over it at the end, so the file is replaced only by a whole export: a failure (or a refused
 * flag, store or id: those are checked before this is opened) leaves it as it was. Anything else (`/dev/stdout`, a
 * FIFO) is written in place.
 */
interface ExportTarget {
  readonly out: Writable;
  /** Makes the export the file's content (renames the temporary file); after the last write. */
  commit(): Promise<void>;
  /** Closes and removes what was written, leaving the file as it was. */
  abandon(): Promise<void>;
}

async function closeStream(out: Writable): Promise<void> {
  if (out.closed) return;
  const closed = once(out, 'close');
  out.end();
  await closed;
}

function openTarget(output: string | undefined, stdout: Writable): ExportTarget {
  if (output === undefined) return { out: stdout, commit: async () => undefined, abandon: async () => undefined };
  const file = resolve(output);
  let special = false;
  try {
    special = !statSync(file).isFile();
  } catch {
    // not there yet: a new regular file
  }
  const path = special ? file : join(dirname(file), `.${basename(file)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  let fd: number;
  try {
    fd = openSync(path, special ? 'w' : 'wx');
  } catch (error) {
    throw new UsageError(`--output: cannot write ${file}: ${(error as Error).message}`);
  }
  const out = createWriteStream('', { fd });
  return {
    out,
    commit: async () => {
      await closeStream(out);
      if (!special) renameSync(path, file);
    },
    abandon: async () => {
      await closeStream(out).catch(() => undefined);
      if (!special) {
        try {
          unlinkSync(path);
        } catch {
          // already gone
        }
      }
    },
  };
}

/**
 * `replay --format ndjson|csv` with filters: the audit export. Writes to `--output FILE` or stdout; counts go to
 * stderr. Every flag, the store and `--optimization` are checked before anything is written or any file opened.
 */
export async function exportCommand(io: Io, flags: ExportFlags, stdout: Writable = process.stdout): Promise<number> {
  if (!(EXPORT_FORMATS as readonly string[]).includes(flags.format)) throw new UsageError(`--format: expected ${EXPORT_FORMATS.join(' or ')}, got ${JSON.stringify(flags.format)}`);
  const format = flags.format as ExportFormat;
  const from = timeFlag('--from', flags.from);
  const to = timeFlag('--to', flags.to);
  if (from && to && from > to) throw new UsageError(`--from ${flags.from} is after --to ${flags.to}`);
  const types = typesFlag(flags.type);
  if (flags.account !== undefined && !/^\d{12}$/.test(flags.account)) throw new UsageError(`--account: expected a 12-digit AWS account id, got ${JSON.stringify(flags.account)}`);
  const region = regionFlag(flags.region);
  if (flags.output !== undefined && !flags.output.trim()) throw new UsageError('--output: the file name is empty');
  const store = await openExistingStore(flags.store);
  let target: ExportTarget | undefined;
  try {
    let optimization: string | undefined;
    if (flags.optimization !== undefined) optimization = await resolveId(store, flags.optimization);
    target = openTarget(flags.output, stdout);
    const writer = new ChunkedWriter(target.out);
    if (format === 'csv') await writer.write(`${CSV_COLUMNS.join(',')}\r\n`);
    let rows = 0;
    const rowsOf = exportRows(store, {
      ...(from ? { from } : {}),
      ...(to ? { to } : {}),
      ...(types ? { types } : {}),
      ...(flags.account !== undefined ? { account: flags.account } : {}),
      ...(region !== undefined ? { region } : {}),
      ...(flags.resource !== undefined ? { resource: flags.resource } : {}),
      ...(optimization !== undefined ? { optimization } : {}),
    });
    for await (const row of rowsOf) {
      rows++;
      await writer.write(format === 'ndjson' ? `${JSON.stringify(row)}\n` : `${CSV_COLUMNS.map((c) => csvField(row[c])).join(',')}\r\n`);
    }
    await writer.flush();
    await target.commit();
    target = undefined;
    io.err(`exported ${rows} events as ${format}${flags.output !== undefined ? ` to ${safe(flags.output)}` : ''}`);
    return 0;
  } finally {
    await target?.abandon();
    await store.close();
  }
}
