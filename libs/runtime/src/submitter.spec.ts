import { defaultPolicy, defaultPriceBook, optimizationIdFor, optimizationStream } from '@optex/domain';
import { HEADERS, TOPICS, silentLogger, submitterHeader, submitterOf, type BusMessage, type Submitter } from '@optex/ports';
import { decodeRecommendation } from '@optex/messaging';
import { SqliteEventStore } from '@optex/event-store';
import { SimulatedFleet } from '@optex/cloud';
import { OptexMetrics, defaultEngineOptions } from '@optex/engine';
import { RiskAssessorService } from '@optex/risk-assessor';
import { gp3Recommendation } from '@optex/testing';
import { inputRecord } from './input';
import { recommendationMessages } from './processing';

// Who submitted a recommendation travels with its message and is recorded as `via` of its OptimizationReceived, as a
// decision records how its person was authenticated.

const NOW = new Date('2026-11-26T10:00:00Z');
const fleet = SimulatedFleet.fromFleet({ volumes: [{ id: 'vol-1', accountId: '123456789012', region: 'us-east-1', volumeType: 'gp2', sizeGiB: 100, state: 'available' }] }, { clock: { now: () => NOW } });

async function received(message: BusMessage): Promise<Record<string, unknown>> {
  const store = SqliteEventStore.open(':memory:');
  const service = new RiskAssessorService(store, defaultPolicy, fleet, fleet, defaultPriceBook, { now: () => NOW }, silentLogger, new OptexMetrics(), { ...defaultEngineOptions, recoverOnStart: false });
  await service.ingest(decodeRecommendation({ ...message, topic: TOPICS.recommendations, partition: 0, offset: '0', attempt: 1 }));
  const [first] = await store.readStream(optimizationStream(optimizationIdFor('spec', 'rec-1')));
  await store.close();
  return { type: first?.type, ...first?.metadata };
}

const record = inputRecord(JSON.stringify(gp3Recommendation({ recommendationId: 'rec-1', source: 'spec', volumeId: 'vol-1' })));
const messageOf = (submittedBy?: Submitter): BusMessage => recommendationMessages({ records: [record], deliveryPrefix: 'spec', name: 'spec', ...(submittedBy ? { submittedBy } : {}) }, false)[0]!;

describe('the submitter of a recommendation', () => {
  it.each<[string, Submitter]>([
    ['the API, with the caller it authenticated', { channel: 'api', method: 'api-token', subject: 'ci-bot' }],
    ['the CLI', { channel: 'cli' }],
  ])('given %s, OptimizationReceived records it as via', async (_name, submittedBy) => {
    const message = messageOf(submittedBy);
    expect(message.headers?.[HEADERS.submittedBy]).toBe(submitterHeader(submittedBy));
    expect(await received(message)).toMatchObject({ type: 'OptimizationReceived', via: submittedBy });
  });

  it('a message without one (an analyzer publishing itself) records no via', async () => {
    const message = messageOf();
    expect(message.headers).not.toHaveProperty(HEADERS.submittedBy);
    expect(await received(message)).not.toHaveProperty('via');
  });

  it('a header optex does not write is left out, not recorded as it came', async () => {
    for (const forged of ['not json', '[]', 'null', '{"channel":"api"}', '{"channel":"api","method":"password","subject":"x"}', '{"channel":"api","method":"jwt","subject":""}', `{"channel":"api","method":"jwt","subject":"${'x'.repeat(1025)}"}`, '{"channel":"email"}']) {
      expect({ forged, submitter: submitterOf(forged) }).toEqual({ forged, submitter: undefined });
    }
    const message = messageOf();
    expect(await received({ ...message, headers: { ...message.headers, [HEADERS.submittedBy]: '{"channel":"api","method":"jwt"}' } })).not.toHaveProperty('via');
    expect(submitterOf('{"channel":"api","method":"jwt","subject":"alice","extra":1}')).toEqual({ channel: 'api', method: 'jwt', subject: 'alice' });
  });
});
