import { randomUUID } from 'node:crypto';
import { SqliteEventStore } from './sqlite/sqlite-event-store';
import { assertStreamName, serializeEvents } from './validation';

describe('event store argument checks: text that is not well-formed UTF-16', () => {
  const HIGH = '\uD83D';
  const LOW = '\uDE00';

  it.each([`batch-${HIGH}`, `batch-${LOW}x`, `${LOW}${HIGH}`])('refuses a stream name with a lone surrogate (%j), naming the field', (name) => {
    expect(() => assertStreamName(name)).toThrow(TypeError);
    expect(() => assertStreamName(name)).toThrow(/^stream must be well-formed Unicode \(no lone surrogate\), got "/);
  });

  it('refuses an event type with a lone surrogate, naming the event', () => {
    const events = [
      { id: randomUUID(), type: 'BatchPlanned', data: {} },
      { id: randomUUID(), type: `Batch${HIGH}`, data: {} },
    ];
    expect(() => serializeEvents(events)).toThrow(/^events\[1\]\.type must be well-formed Unicode \(no lone surrogate\)/);
  });

  it('accepts names and types with surrogate pairs', () => {
    expect(() => assertStreamName(`batch-${HIGH}${LOW}`)).not.toThrow();
    expect(serializeEvents([{ id: randomUUID(), type: `Planned${HIGH}${LOW}`, data: {} }])[0]?.type).toBe(`Planned${HIGH}${LOW}`);
  });

  it('on a store: the append is refused and writes nothing; lone surrogates in data and metadata read back as written', async () => {
    const store = SqliteEventStore.open(':memory:');
    try {
      await expect(store.appendToStream(`batch-${HIGH}`, [{ id: randomUUID(), type: 'BatchPlanned', data: {} }], 'no_stream')).rejects.toThrow(/^stream must be well-formed/);
      await expect(store.appendToStream('batch-1', [{ id: randomUUID(), type: `Planned${LOW}`, data: {} }], 'no_stream')).rejects.toThrow(/^events\[0\]\.type must be well-formed/);
      const written = { label: `cut ${HIGH}`, [`key${LOW}`]: 1 };
      await store.appendToStream('batch-2', [{ id: randomUUID(), type: 'BatchPlanned', data: written, metadata: { note: LOW } }], 'no_stream');
      const all = [];
      for await (const e of store.readAll()) all.push(e);
      expect(all).toHaveLength(1);
      expect(all[0]).toMatchObject({ stream: 'batch-2', data: written, metadata: { note: LOW } });
    } finally {
      await store.close();
    }
  });
});
