import { CloudEvent, Kafka, type KafkaMessage } from 'cloudevents';
import { CloudEventCodecError, decodeCloudEvent, encodeCloudEvent, isoTime, type CloudEventInput } from './cloudevents';

const event: CloudEventInput = {
  id: '6f1c2c1e-5b0e-4e38-9d55-1b1f0c7f6a10',
  type: 'io.optex.ExecutionSucceeded',
  source: 'urn:optex:event-store',
  subject: 'optimization-42',
  time: '2026-11-26T10:15:30.000Z',
  data: { optimizationId: '42', savings: 12.5, steps: ['stop', 'modify', 'start'], note: 'zürich ✓' },
  extensions: { optexrevision: '3', optexmetadata: '{"schemaVersion":1}' },
};

function errorOf(fn: () => unknown): CloudEventCodecError {
  try {
    fn();
  } catch (error) {
    if (error instanceof CloudEventCodecError) return error;
    throw new Error(`expected a CloudEventCodecError, got ${String(error)}`);
  }
  throw new Error('expected a CloudEventCodecError, nothing was thrown');
}

describe('encodeCloudEvent (Kafka binary mode)', () => {
  it('puts every attribute in a ce_* header, the content type in content-type and the JSON data in the value', () => {
    const { value, headers } = encodeCloudEvent(event);
    expect(headers).toEqual({
      ce_specversion: '1.0',
      ce_id: event.id,
      ce_type: event.type,
      ce_source: event.source,
      ce_subject: 'optimization-42',
      ce_time: '2026-11-26T10:15:30.000Z',
      ce_optexrevision: '3',
      ce_optexmetadata: '{"schemaVersion":1}',
      'content-type': 'application/json',
    });
    expect(JSON.parse(value.toString('utf8'))).toEqual(event.data);
  });

  it('leaves ce_subject out when there is no subject and normalises the time to UTC', () => {
    const { headers } = encodeCloudEvent({ ...event, subject: undefined, extensions: undefined, time: '2026-11-26T12:15:30+02:00' });
    expect(headers).not.toHaveProperty('ce_subject');
    expect(headers['ce_time']).toBe('2026-11-26T10:15:30.000Z');
    expect(Object.keys(headers).filter((h) => h.startsWith('ce_')).sort()).toEqual(['ce_id', 'ce_source', 'ce_specversion', 'ce_time', 'ce_type']);
  });

  it('writes each time given as its own UTC instant, when times repeat, change and come back, and still refuses a bad one after a good one', () => {
    const times = ['2026-11-26T12:15:30+02:00', '2026-11-26T12:15:30+02:00', '2026-11-26T10:15:30.001Z', '2026-11-26T12:15:30+02:00', '2026-02-30T00:00:00Z'];
    expect(times.map((time) => encodeCloudEvent({ ...event, time }).headers['ce_time'])).toEqual([
      '2026-11-26T10:15:30.000Z',
      '2026-11-26T10:15:30.000Z',
      '2026-11-26T10:15:30.001Z',
      '2026-11-26T10:15:30.000Z',
      '2026-03-02T00:00:00.000Z', // as Date.parse reads it
    ]);
    expect(() => encodeCloudEvent({ ...event, time: 'yesterday' })).toThrow(CloudEventCodecError);
    expect(encodeCloudEvent({ ...event, time: '2026-02-30T00:00:00Z' }).headers['ce_time']).toBe('2026-03-02T00:00:00.000Z');
  });

  it('isoTime formats a Date as the codec writes a time, and the codec reads that text back, between other times', () => {
    const dates = ['2026-11-26T10:15:30.000Z', '2026-11-26T10:15:30.000Z', '2026-11-26T10:15:30.001Z', '+275760-09-13T00:00:00.000Z'].map((t) => new Date(t));
    for (const date of dates) {
      const iso = isoTime(date);
      expect(iso).toBe(date.toISOString());
      expect(encodeCloudEvent({ ...event, time: iso }).headers['ce_time']).toBe(date.toISOString());
      expect(encodeCloudEvent({ ...event, time: '2026-11-26T12:15:30+02:00' }).headers['ce_time']).toBe('2026-11-26T10:15:30.000Z');
      expect(isoTime(date)).toBe(date.toISOString());
    }
    expect(() => isoTime(new Date(Number.NaN))).toThrow(RangeError);
  });

  it('only produces string header values', () => {
    const { headers } = encodeCloudEvent(event);
    for (const value of Object.values(headers)) expect(typeof value).toBe('string');
  });

  it.each([
    ['id', { id: '' }],
    ['type', { type: '' }],
    ['source', { source: '' }],
    ['time', { time: '' }],
    ['time', { time: 'yesterday' }],
    ['subject', { subject: '' }],
    ['extensions.Bad-Name', { extensions: { 'Bad-Name': 'x' } }],
    ['extensions.subject', { extensions: { subject: 'x' } }],
    ['data', { data: undefined }],
  ])('rejects a bad %s', (field, patch) => {
    const error = errorOf(() => encodeCloudEvent({ ...event, ...(patch as Partial<CloudEventInput>) }));
    expect(error.field).toBe(field);
    expect(error.message).toContain(field.replace('extensions.', ''));
  });

  it('rejects data that cannot be serialised', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(errorOf(() => encodeCloudEvent({ ...event, data: cyclic })).field).toBe('data');
  });

  it('rejects a source that is not a URI reference (the package schema)', () => {
    const error = errorOf(() => encodeCloudEvent({ ...event, source: 'not a uri' }));
    expect(error.field).toBe('source');
  });

  it('asks the package about each source until it passed: a bad one is refused every time, a good one keeps working', () => {
    for (let i = 0; i < 3; i++) {
      expect(encodeCloudEvent({ ...event, id: `good-${i}` }).headers['ce_source']).toBe(event.source);
      expect(errorOf(() => encodeCloudEvent({ ...event, id: `bad-${i}`, source: 'not a uri either' })).field).toBe('source');
    }
    // What the package's check would add for a passed source is checked before it, every time.
    expect(errorOf(() => encodeCloudEvent({ ...event, id: '' })).field).toBe('id');
    expect(errorOf(() => encodeCloudEvent({ ...event, subject: '' })).field).toBe('subject');
    expect(errorOf(() => encodeCloudEvent({ ...event, extensions: { Bad: 'x' } })).field).toBe('extensions.Bad');
    expect(errorOf(() => encodeCloudEvent({ ...event, extensions: { n: 1 as unknown as string } })).field).toBe('extensions.n');
  });

  it.each([
    ['with a subject and extensions', event],
    ['without a subject or extensions', { ...event, subject: undefined, extensions: undefined }],
  ])("has the headers of the package's own Kafka binding (%s), content-type for ce_datacontenttype", (_, input) => {
    const { headers, value } = encodeCloudEvent(input);
    const { data, extensions, ...attributes } = input;
    const bound = Kafka.binary(new CloudEvent<unknown>({ ...extensions, ...attributes, specversion: '1.0', datacontenttype: 'application/json', data }));
    const { ce_datacontenttype, ...expected } = bound.headers as Record<string, string>;
    expect(ce_datacontenttype).toBe('application/json');
    expect(headers).toEqual(Object.fromEntries(Object.entries(expected).filter(([, v]) => v !== undefined)));
    expect(JSON.parse(value.toString('utf8'))).toEqual(bound.value);
  });

  it('is readable by the cloudevents package itself', () => {
    const { value, headers } = encodeCloudEvent(event);
    const message: KafkaMessage<Buffer> = { headers, value, key: 'k', body: undefined };
    const parsed = Kafka.toEvent(message) as CloudEvent<unknown>;
    expect(parsed.id).toBe(event.id);
    expect(parsed.type).toBe(event.type);
    expect(parsed.subject).toBe(event.subject);
    expect(parsed.data).toEqual(event.data);
    expect(parsed['optexrevision']).toBe('3');
  });
});

describe('decodeCloudEvent', () => {
  it('reverses encodeCloudEvent', () => {
    const { value, headers } = encodeCloudEvent(event);
    expect(decodeCloudEvent(headers, value)).toEqual({
      specversion: '1.0',
      id: event.id,
      type: event.type,
      source: event.source,
      subject: event.subject,
      time: event.time,
      datacontenttype: 'application/json',
      data: event.data,
      extensions: { optexrevision: '3', optexmetadata: '{"schemaVersion":1}' },
    });
  });

  it('accepts Buffer header values (as kafkajs delivers them) and any header case', () => {
    const { value, headers } = encodeCloudEvent(event);
    const buffers = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), Buffer.from(v)]));
    const decoded = decodeCloudEvent(buffers, value);
    expect(decoded.id).toBe(event.id);
    expect(decoded.data).toEqual(event.data);
    expect(decoded.extensions['optexrevision']).toBe('3');
  });

  it('decodes a message written by the cloudevents package', () => {
    const ce = new CloudEvent({ id: 'a-1', type: 't.x', source: '/s', datacontenttype: 'application/json', data: { n: 1 }, time: '2026-01-01T00:00:00.000Z', traceparent: 'abc' });
    const message = Kafka.binary(ce);
    const headers = Object.fromEntries(Object.entries(message.headers).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
    const decoded = decodeCloudEvent(headers, Buffer.from(JSON.stringify(message.value)));
    expect(decoded).toMatchObject({ id: 'a-1', type: 't.x', source: '/s', data: { n: 1 }, extensions: { traceparent: 'abc' } });
  });

  it('keeps the raw bytes when the content type is not JSON', () => {
    const decoded = decodeCloudEvent({ ce_specversion: '1.0', ce_id: '1', ce_type: 't', ce_source: '/s', 'content-type': 'application/octet-stream' }, Buffer.from([1, 2, 3]));
    expect(decoded.data).toEqual(Buffer.from([1, 2, 3]));
    expect(decoded).not.toHaveProperty('time');
  });

  it.each(['ce_id', 'ce_type', 'ce_source', 'ce_specversion'])('names a missing %s', (missing) => {
    const { value, headers } = encodeCloudEvent(event);
    const { [missing]: _dropped, ...rest } = headers;
    const error = errorOf(() => decodeCloudEvent(rest, value));
    expect(error.field).toBe(missing);
    expect(error.message).toContain(`${missing} is missing`);
  });

  it('rejects an empty ce_id', () => {
    const { value, headers } = encodeCloudEvent(event);
    expect(errorOf(() => decodeCloudEvent({ ...headers, ce_id: '' }, value)).field).toBe('ce_id');
  });

  it('rejects another spec version', () => {
    const { value, headers } = encodeCloudEvent(event);
    const error = errorOf(() => decodeCloudEvent({ ...headers, ce_specversion: '0.3' }, value));
    expect(error.field).toBe('ce_specversion');
    expect(error.message).toContain('0.3');
  });

  it('rejects a ce_time that is not a date', () => {
    const { value, headers } = encodeCloudEvent(event);
    expect(errorOf(() => decodeCloudEvent({ ...headers, ce_time: 'soon' }, value)).field).toBe('ce_time');
  });

  it('rejects a bad extension header name', () => {
    const { value, headers } = encodeCloudEvent(event);
    expect(errorOf(() => decodeCloudEvent({ ...headers, 'ce_trace-id': 'x' }, value)).field).toBe('ce_trace-id');
  });

  it('rejects a JSON value that does not parse, and an empty JSON value', () => {
    const { headers } = encodeCloudEvent(event);
    const bad = errorOf(() => decodeCloudEvent(headers, Buffer.from('{"open": ')));
    expect(bad.field).toBe('value');
    expect(bad.message).toContain('not valid JSON');
    expect(errorOf(() => decodeCloudEvent(headers, null)).field).toBe('value');
  });

  it('rejects a source that is not a URI reference', () => {
    const { value, headers } = encodeCloudEvent(event);
    expect(errorOf(() => decodeCloudEvent({ ...headers, ce_source: 'has spaces in it' }, value)).field).toBe('source');
  });
});
