import { randomUUID } from 'node:crypto';
import { Metadata, Server, ServerCredentials, status as GrpcStatus } from '@grpc/grpc-js';
import type {
  ServerReadableStream,
  ServerWritableStream,
  UntypedServiceImplementation,
  sendUnaryData,
} from '@grpc/grpc-js';
// The very module instances the client uses: the generated serializers check `instanceof`.
import { StreamsService } from '@eventstore/db-client/generated/streams_grpc_pb';
import { AppendReq, AppendResp, ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb';
import { Empty, StreamIdentifier, UUID } from '@eventstore/db-client/generated/shared_pb';
import { EmulatorLog } from './log';
import type { Direction, EventPredicate, ExpectedStreamState, ProposedEvent, StoredEvent } from './log';

/** Options of {@link startEsdbEmulator}. */
export interface EsdbEmulatorOptions {
  /** Loopback port to listen on. @defaultValue 0 (a free port) */
  readonly port?: number;
  /** JSON-lines file that keeps the log across restarts (appends are fsync'd). @defaultValue in memory only */
  readonly dataFile?: string;
  /** Clock for the `created` timestamp of new events. @defaultValue Date.now */
  readonly now?: () => number;
}

/** A running emulator. */
export interface EsdbEmulator {
  /** Connection string for `@eventstore/db-client`: `esdb://127.0.0.1:PORT?tls=false`. */
  readonly url: string;
  readonly port: number;
  /** Number of events in the log. */
  eventCount(): number;
  /**
   * Ends every open subscription with status UNAVAILABLE, as a server restart or a network cut
   * would, while the server keeps serving new calls.
   */
  dropSubscriptions(): void;
  /**
   * While `denied`, every append and read (subscriptions included) is answered as EventStoreDB answers a user the
   * streams' ACLs deny: status `PERMISSION_DENIED`, `Access Denied`, with metadata `exception: access-denied`.
   */
  denyAccess(denied: boolean): void;
  /** Stops at once (`forceShutdown`): open calls are cut. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
/** Window of a filtered subscription when the client asks for `count` instead of `max`. */
const DEFAULT_FILTER_WINDOW = 32;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Open subscription calls, each with the function that ends its delivery loop. */
type Subscriptions = Map<ServerWritableStream<ReadReq, ReadResp>, () => void>;

class RequestError extends Error {
  constructor(
    readonly code: GrpcStatus,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Starts an in-process gRPC emulator of EventStoreDB's Streams API (Append, Read of streams and
 * `$all`, catch-up subscriptions to `$all` and to streams) on a loopback port. A test double:
 * see README.md beside this file for what it does and does not implement.
 */
export async function startEsdbEmulator(options: EsdbEmulatorOptions = {}): Promise<EsdbEmulator> {
  const log = EmulatorLog.open({ dataFile: options.dataFile, now: options.now });
  const subscriptions: Subscriptions = new Map();
  const server = new Server();
  let denied = false;
  const implementation: UntypedServiceImplementation = {
    append: (call: ServerReadableStream<AppendReq, AppendResp>, callback: sendUnaryData<AppendResp>) =>
      denied ? callback(accessDenied()) : handleAppend(log, call, callback),
    read: (call: ServerWritableStream<ReadReq, ReadResp>) => (denied ? call.emit('error', accessDenied()) : handleRead(log, subscriptions, call)),
  };
  server.addService(StreamsService, implementation);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${HOST}:${options.port ?? 0}`, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  return {
    url: `esdb://${HOST}:${port}?tls=false`,
    port,
    eventCount: () => log.size,
    dropSubscriptions: () => {
      for (const [call, abort] of [...subscriptions]) {
        call.emit('error', { code: GrpcStatus.UNAVAILABLE, details: 'esdb emulator: subscription dropped' });
        abort();
      }
    },
    denyAccess: (deny) => {
      denied = deny;
    },
    stop: async () => {
      server.forceShutdown();
      for (const abort of [...subscriptions.values()]) abort();
      subscriptions.clear();
    },
  };
}

/** EventStoreDB's answer to a call the user's ACLs do not allow (`RpcExceptions.AccessDenied`). */
function accessDenied(): { code: GrpcStatus; details: string; metadata: Metadata } {
  const metadata = new Metadata();
  metadata.set('exception', 'access-denied');
  return { code: GrpcStatus.PERMISSION_DENIED, details: 'Access Denied', metadata };
}

// ---------------------------------------------------------------- Append

function handleAppend(
  log: EmulatorLog,
  call: ServerReadableStream<AppendReq, AppendResp>,
  callback: sendUnaryData<AppendResp>,
): void {
  let header: AppendReq.Options | undefined;
  const proposed: ProposedEvent[] = [];
  let failure: RequestError | undefined;
  call.on('data', (req: AppendReq) => {
    if (failure) return;
    try {
      if (req.hasOptions()) header = req.getOptions();
      else if (req.hasProposedMessage()) proposed.push(toProposed(req.getProposedMessage()!));
    } catch (error) {
      failure = error instanceof RequestError ? error : new RequestError(GrpcStatus.INVALID_ARGUMENT, String(error));
    }
  });
  call.on('error', () => undefined); // a cancelled append writes nothing
  call.on('end', () => {
    if (!failure && !header) failure = new RequestError(GrpcStatus.INVALID_ARGUMENT, 'append: the first message must carry options');
    if (failure) return callback({ code: failure.code, details: failure.message });
    const stream = streamName(header!.getStreamIdentifier());
    const outcome = log.append(stream, expectedState(header!), proposed);
    const resp = new AppendResp();
    if (outcome.ok) {
      const success = new AppendResp.Success();
      if (outcome.revision === undefined) success.setNoStream(new Empty());
      else success.setCurrentRevision(outcome.revision.toString());
      if (outcome.position === undefined) success.setNoPosition(new Empty());
      else {
        const position = new AppendResp.Position();
        position.setCommitPosition(outcome.position.toString());
        position.setPreparePosition(outcome.position.toString());
        success.setPosition(position);
      }
      resp.setSuccess(success);
    } else {
      const wrong = new AppendResp.WrongExpectedVersion();
      if (outcome.current === 'no_stream') wrong.setCurrentNoStream(new Empty());
      else wrong.setCurrentRevision(outcome.current.toString());
      const expected = outcome.expected;
      if (expected === 'any') wrong.setExpectedAny(new Empty());
      else if (expected === 'no_stream') wrong.setExpectedNoStream(new Empty());
      else if (expected === 'stream_exists') wrong.setExpectedStreamExists(new Empty());
      else wrong.setExpectedRevision(expected.toString());
      resp.setWrongExpectedVersion(wrong);
    }
    callback(null, resp);
  });
}

function expectedState(options: AppendReq.Options): ExpectedStreamState {
  switch (options.getExpectedStreamRevisionCase()) {
    case AppendReq.Options.ExpectedStreamRevisionCase.REVISION:
      return BigInt(options.getRevision());
    case AppendReq.Options.ExpectedStreamRevisionCase.NO_STREAM:
      return 'no_stream';
    case AppendReq.Options.ExpectedStreamRevisionCase.STREAM_EXISTS:
      return 'stream_exists';
    default:
      return 'any';
  }
}

function toProposed(message: AppendReq.ProposedMessage): ProposedEvent {
  const id = uuidToString(message.getId());
  if (!UUID_PATTERN.test(id)) throw new RequestError(GrpcStatus.INVALID_ARGUMENT, `append: event id "${id}" is not a UUID`);
  const meta = message.getMetadataMap();
  const type = meta.get('type');
  if (!type) throw new RequestError(GrpcStatus.INVALID_ARGUMENT, `append: event ${id} has no "type" metadata`);
  return {
    id: id.toLowerCase(),
    type,
    contentType: meta.get('content-type') ?? 'application/octet-stream',
    data: message.getData_asU8(),
    metadata: message.getCustomMetadata_asU8(),
  };
}

// ---------------------------------------------------------------- Read

function handleRead(
  log: EmulatorLog,
  subscriptions: Subscriptions,
  call: ServerWritableStream<ReadReq, ReadResp>,
): void {
  try {
    const options = call.request.getOptions();
    if (!options) throw new RequestError(GrpcStatus.INVALID_ARGUMENT, 'read: options are required');
    const structuredIds = options.getUuidOption()?.hasStructured() ?? false;
    const predicate = filterPredicate(options);
    if (options.hasSubscription()) {
      void subscribe(log, subscriptions, call, options, predicate, structuredIds);
      return;
    }
    const direction: Direction =
      options.getReadDirection() === ReadReq.Options.ReadDirection.BACKWARDS ? 'backwards' : 'forwards';
    const count = toCount(options.getCount());
    if (options.hasStream()) {
      const streamOptions = options.getStream()!;
      const stream = streamName(streamOptions.getStreamIdentifier());
      const events = log.readStream(stream, streamRevision(streamOptions), direction, count);
      if (events === undefined) {
        const notFound = new ReadResp.StreamNotFound();
        notFound.setStreamIdentifier(streamIdentifier(stream));
        const resp = new ReadResp();
        resp.setStreamNotFound(notFound);
        call.write(resp);
        call.end();
        return;
      }
      void writeAll(call, events, structuredIds);
      return;
    }
    if (options.hasAll()) {
      void writeAll(call, log.readAll(allPosition(options.getAll()!), direction, count, predicate), structuredIds);
      return;
    }
    throw new RequestError(GrpcStatus.INVALID_ARGUMENT, 'read: neither a stream nor $all was given');
  } catch (error) {
    const e = error instanceof RequestError ? error : new RequestError(GrpcStatus.INTERNAL, String(error));
    call.emit('error', { code: e.code, details: e.message });
  }
}

async function writeAll(
  call: ServerWritableStream<ReadReq, ReadResp>,
  events: readonly StoredEvent[],
  structuredIds: boolean,
): Promise<void> {
  for (const event of events) {
    if (call.cancelled) return;
    await write(call, eventResponse(event, structuredIds));
  }
  call.end();
}

/** Catch-up then live: `next` walks the log by index, so nothing appended meanwhile is skipped or repeated. */
async function subscribe(
  log: EmulatorLog,
  subscriptions: Subscriptions,
  call: ServerWritableStream<ReadReq, ReadResp>,
  options: ReadReq.Options,
  predicate: EventPredicate,
  structuredIds: boolean,
): Promise<void> {
  let next: number;
  let inScope: EventPredicate = predicate;
  if (options.hasStream()) {
    const streamOptions = options.getStream()!;
    const stream = streamName(streamOptions.getStreamIdentifier());
    inScope = (event) => event.stream === stream;
    const from = streamRevision(streamOptions);
    next = 0;
    if (from === 'end') next = log.size;
    else if (from !== 'start') {
      const revision = from;
      const index = findIndex(log, (event) => event.stream === stream && event.revision === revision);
      next = index === -1 ? log.size : index + 1;
    }
  } else {
    const from = allPosition(options.getAll());
    next = from === 'start' ? 0 : from === 'end' ? log.size : log.indexAfter(from);
  }

  const filter = options.hasFilter() ? options.getFilter() : undefined;
  const window = filter?.hasMax() ? filter.getMax() : DEFAULT_FILTER_WINDOW;
  const checkpointEvery = filter ? Math.max(1, window * Math.max(1, filter.getCheckpointintervalmultiplier())) : 0;
  let consideredSinceCheckpoint = 0;

  let wake: (() => void) | undefined;
  let done = false;
  let signalAborted: () => void = () => undefined;
  const aborted = new Promise<void>((resolve) => (signalAborted = resolve));
  const abort = (): void => {
    done = true;
    signalAborted();
    wake?.();
  };
  subscriptions.set(call, abort);
  const stopListening = log.onAppended(() => wake?.());
  for (const event of ['cancelled', 'close', 'finish', 'error']) call.on(event, abort);

  try {
    const confirmation = new ReadResp.SubscriptionConfirmation();
    confirmation.setSubscriptionId(randomUUID());
    const confirm = new ReadResp();
    confirm.setConfirmation(confirmation);
    await write(call, confirm, aborted);
    let caughtUp = false;
    while (!done && !call.cancelled) {
      const event = log.at(next);
      if (!event) {
        if (!caughtUp) {
          caughtUp = true;
          const resp = new ReadResp();
          resp.setCaughtUp(new ReadResp.CaughtUp());
          await write(call, resp, aborted);
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (done || log.at(next)) resolve();
        });
        wake = undefined;
        continue;
      }
      next += 1;
      if (inScope(event)) await write(call, eventResponse(event, structuredIds), aborted);
      if (checkpointEvery > 0 && ++consideredSinceCheckpoint >= checkpointEvery) {
        consideredSinceCheckpoint = 0;
        const checkpoint = new ReadResp.Checkpoint();
        checkpoint.setCommitPosition(event.position.toString());
        checkpoint.setPreparePosition(event.position.toString());
        const resp = new ReadResp();
        resp.setCheckpoint(checkpoint);
        await write(call, resp, aborted);
      }
    }
  } finally {
    stopListening();
    subscriptions.delete(call);
  }
}

function findIndex(log: EmulatorLog, match: EventPredicate): number {
  for (let i = log.size - 1; i >= 0; i--) if (match(log.at(i)!)) return i;
  return -1;
}

/** Writes with backpressure: waits for `drain` (or the end of the call) when the transport buffer is full. */
function write(call: ServerWritableStream<ReadReq, ReadResp>, resp: ReadResp, aborted?: Promise<void>): Promise<void> {
  if (call.cancelled || call.writableEnded || call.destroyed) return Promise.resolve();
  if (call.write(resp)) return Promise.resolve();
  const drained = new Promise<void>((resolve) => {
    const done = (): void => {
      call.off('drain', done);
      call.off('close', done);
      resolve();
    };
    call.on('drain', done);
    call.on('close', done);
  });
  return aborted ? Promise.race([drained, aborted]) : drained;
}

function eventResponse(event: StoredEvent, structuredIds: boolean): ReadResp {
  const recorded = new ReadResp.ReadEvent.RecordedEvent();
  recorded.setId(uuidMessage(event.id, structuredIds));
  recorded.setStreamIdentifier(streamIdentifier(event.stream));
  recorded.setStreamRevision(event.revision.toString());
  recorded.setCommitPosition(event.position.toString());
  recorded.setPreparePosition(event.position.toString());
  const meta = recorded.getMetadataMap();
  meta.set('type', event.type);
  meta.set('content-type', event.contentType);
  meta.set('created', event.created.toString());
  recorded.setData(event.data);
  recorded.setCustomMetadata(event.metadata);
  const readEvent = new ReadResp.ReadEvent();
  readEvent.setEvent(recorded);
  readEvent.setCommitPosition(event.position.toString());
  const resp = new ReadResp();
  resp.setEvent(readEvent);
  return resp;
}

// ---------------------------------------------------------------- Filters and positions

function filterPredicate(options: ReadReq.Options): EventPredicate {
  const filter = options.hasFilter() ? options.getFilter() : undefined;
  if (!filter) return () => true;
  const byType = filter.hasEventType();
  const expression = byType ? filter.getEventType() : filter.getStreamIdentifier();
  if (!expression) return () => true;
  const field = (event: StoredEvent): string => (byType ? event.type : event.stream);
  const prefixes = expression.getPrefixList();
  if (prefixes.length > 0) return (event) => prefixes.some((prefix) => field(event).startsWith(prefix));
  const source = expression.getRegex();
  if (!source) return () => true;
  let regex: RegExp;
  try {
    regex = new RegExp(source);
  } catch {
    throw new RequestError(GrpcStatus.INVALID_ARGUMENT, `read: filter regex ${JSON.stringify(source)} is not valid`);
  }
  return (event) => regex.test(field(event));
}

function streamRevision(options: ReadReq.Options.StreamOptions): bigint | 'start' | 'end' {
  switch (options.getRevisionOptionCase()) {
    case ReadReq.Options.StreamOptions.RevisionOptionCase.REVISION:
      return BigInt(options.getRevision());
    case ReadReq.Options.StreamOptions.RevisionOptionCase.END:
      return 'end';
    default:
      return 'start';
  }
}

function allPosition(options: ReadReq.Options.AllOptions | undefined): bigint | 'start' | 'end' {
  if (options?.hasPosition()) return BigInt(options.getPosition()!.getCommitPosition());
  if (options?.hasEnd()) return 'end';
  return 'start';
}

function toCount(count: string): number {
  if (!count) return Number.MAX_SAFE_INTEGER;
  const value = BigInt(count);
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
}

function streamName(identifier: StreamIdentifier | undefined): string {
  const name = identifier ? Buffer.from(identifier.getStreamName_asU8()).toString('utf8') : '';
  if (!name) throw new RequestError(GrpcStatus.INVALID_ARGUMENT, 'a stream name is required');
  return name;
}

function streamIdentifier(stream: string): StreamIdentifier {
  const identifier = new StreamIdentifier();
  identifier.setStreamName(Buffer.from(stream, 'utf8'));
  return identifier;
}

// ---------------------------------------------------------------- UUIDs

function uuidToString(uuid: UUID | undefined): string {
  if (!uuid) throw new RequestError(GrpcStatus.INVALID_ARGUMENT, 'append: an event has no id');
  if (uuid.hasStructured()) {
    const structured = uuid.getStructured()!;
    const bytes = Buffer.alloc(16);
    bytes.writeBigInt64BE(BigInt(structured.getMostSignificantBits()), 0);
    bytes.writeBigInt64BE(BigInt(structured.getLeastSignificantBits()), 8);
    const hex = bytes.toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  return uuid.getString();
}

function uuidMessage(id: string, structured: boolean): UUID {
  const uuid = new UUID();
  if (!structured) return uuid.setString(id);
  const bytes = Buffer.from(id.replace(/-/g, ''), 'hex');
  const bits = new UUID.Structured();
  bits.setMostSignificantBits(bytes.readBigInt64BE(0).toString());
  bits.setLeastSignificantBits(bytes.readBigInt64BE(8).toString());
  return uuid.setStructured(bits);
}
