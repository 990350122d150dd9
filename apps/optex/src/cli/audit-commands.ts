import { createWriteStream, openSync } from 'node:fs';
import { once } from 'node:events';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { OPTIMIZATION_STREAM_PREFIX, optimizationStateAt, parseInstant, optimizationStream, viewOf } from '@optex/domain';
import type { EventStore, RecordedEvent } from '@optex/ports';
import { recordAnchor, verifyLog, type VerifyReport } from '@optex/event-store';
import { UsageError } from '@optex/runtime';
import { safe, table, toJson } from './format';
import { NotFound, openExistingStore, resolveId, type Io } from './commands';

/** An ISO-8601 time with its zone (domain `parseInstant`). */
function timeFlag(flag: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const at = parseInstant(value);
  if (!at) throw new UsageError(`${flag}: expected an ISO-8601 time such as 2026-12-02T10:00:00Z, got ${JSON.stringify(value)}`);
  return at;
}

/** `verify [--stream S]`: recomputes the hash chains (and the anchors over the whole log); exit 1 naming the first event that does not match. */
export async function verifyCommand(io: Io, flags: { store: string; stream?: string; json?: boolean }): Promise<number> {
  const store = await openExistingStore(flags.store);
  try {
    const started = Date.now();
    const report = await verifyLog(store, {
      ...(flags.stream !== undefined ? { stream: flags.stream } : {}),
      ...(process.stderr.isTTY ? { onProgress: (n: number) => process.stderr.write(`\rverified ${n.toLocaleString('en-US')} events …`) } : {}),
    });
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
    if (flags.json) io.out(toJson(report));
    else io.out(verifyText(report, flags.stream, Date.now() - started));
    return report.ok ? 0 : 1;
  } finally {
    await store.close();
  }
}

function verifyText(r: VerifyReport, stream: string | undefined, ms: number): string {
  const what = stream === undefined ? `${r.events} events in ${r.streams} streams, ${r.anchors.checked} of ${r.anchors.total} anchors` : `${r.events} events of stream ${safe(stream)}`;
  if (r.ok) return `OK: ${what} verified in ${(ms / 1000).toFixed(1)} s; every hash chain is intact${stream === undefined ? ' and every anchor matches' : ''}.`;
  const f = r.failure as NonNullable<VerifyReport['failure']>;
  const lines = [`FAILED (${f.problem}): ${safe(f.message)}`];
  if (f.event) lines.push(`  first event that does not match: ${safe(f.event.stream)}@${f.event.revision}  ${safe(f.event.type)}  id ${f.event.id}  position ${f.event.position}  recorded ${f.event.recordedAt}`);
  lines.push(`  checked before it: ${what}`);
  return lines.join('\n');
}

/** `anchor`: fixes the digest of the whole log so far (print it and keep it outside the log too). */
export async function anchorCommand(io: Io, flags: { store: string; json?: boolean }): Promise<number> {
  const store = await openExistingStore(flags.store);
  try {
    const anchor = await recordAnchor(store);
    if (flags.json) io.out(toJson({ anchor: anchor ?? null }));
    else if (!anchor) io.out('Nothing to anchor: no event was recorded since the last anchor.');
    else io.out(`Anchored ${anchor.events} events up to position ${anchor.throughCommit}: digest ${anchor.digest}\nKeep this line outside the log (a ticket, a write-once bucket): verify checks the log against its anchors.`);
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
    const { state, applied, after, asOf } = optimizationStateAt(events, at);
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
            ['estimated savings', `$${v.estimatedMonthlySavings.toFixed(2)}/month`],
            ['actual savings', v.actualMonthlySavings === null ? '—' : `$${v.actualMonthlySavings.toFixed(2)}/month`],
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

/** RFC 4180: a field with a comma, quote, CR or LF is quoted, quotes doubled (four lines; no CSV package needed for writing). */
function csvField(value: unknown): string {
  const text = value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
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

/** Writes text to a stream in chunks of about 64 KiB, waiting whenever the stream asks to (bounded memory whatever the size). */
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
    if (!this.out.write(chunk)) await once(this.out, 'drain');
  }
}

/** `replay --format ndjson|csv` with filters: the audit export. Writes to `--output FILE` or stdout; counts go to stderr. */
export async function exportCommand(io: Io, flags: ExportFlags, stdout: Writable = process.stdout): Promise<number> {
  if (!(EXPORT_FORMATS as readonly string[]).includes(flags.format)) throw new UsageError(`--format: expected ${EXPORT_FORMATS.join(' or ')}, got ${JSON.stringify(flags.format)}`);
  const format = flags.format as ExportFormat;
  const from = timeFlag('--from', flags.from);
  const to = timeFlag('--to', flags.to);
  if (from && to && from > to) throw new UsageError(`--from ${flags.from} is after --to ${flags.to}`);
  const types = flags.type === undefined ? undefined : new Set(flags.type.split(',').map((t) => t.trim()).filter((t) => t.length > 0));
  if (types && types.size === 0) throw new UsageError('--type: expected one or more event types separated by commas');
  if (flags.account !== undefined && !/^\d{12}$/.test(flags.account)) throw new UsageError(`--account: expected a 12-digit AWS account id, got ${JSON.stringify(flags.account)}`);
  let fd: number | undefined;
  if (flags.output !== undefined) {
    try {
      fd = openSync(resolve(flags.output), 'w');
    } catch (error) {
      throw new UsageError(`--output: cannot write ${resolve(flags.output)}: ${(error as Error).message}`);
    }
  }
  const out = fd === undefined ? stdout : createWriteStream('', { fd });
  const store = await openExistingStore(flags.store).catch(async (error: unknown) => {
    if (out !== stdout) out.destroy();
    throw error;
  });
  try {
    let optimization: string | undefined;
    if (flags.optimization !== undefined) optimization = await resolveId(store, flags.optimization);
    const writer = new ChunkedWriter(out);
    if (format === 'csv') await writer.write(`${CSV_COLUMNS.join(',')}\r\n`);
    let rows = 0;
    const rowsOf = exportRows(store, {
      ...(from ? { from } : {}),
      ...(to ? { to } : {}),
      ...(types ? { types } : {}),
      ...(flags.account !== undefined ? { account: flags.account } : {}),
      ...(flags.region !== undefined ? { region: flags.region } : {}),
      ...(flags.resource !== undefined ? { resource: flags.resource } : {}),
      ...(optimization !== undefined ? { optimization } : {}),
    });
    for await (const row of rowsOf) {
      rows++;
      await writer.write(format === 'ndjson' ? `${JSON.stringify(row)}\n` : `${CSV_COLUMNS.map((c) => csvField(row[c])).join(',')}\r\n`);
    }
    await writer.flush();
    io.err(`exported ${rows} events as ${format}${flags.output !== undefined ? ` to ${flags.output}` : ''}`);
    return 0;
  } finally {
    if (out !== stdout) {
      out.end();
      await once(out, 'close');
    }
    await store.close();
  }
}
