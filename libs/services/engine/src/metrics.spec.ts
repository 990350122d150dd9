import { OptexMetrics } from './metrics';

describe('OptexMetrics: optex_messages_total', () => {
  const sample = async (metrics: OptexMetrics, group: string, outcome: string) =>
    (await metrics.messages.get()).values.find((v) => v.labels['group'] === group && v.labels['outcome'] === outcome)?.value;

  it('what messagesOf counts is in the registry when it is read, per group and outcome, and adds up across reads', async () => {
    const metrics = new OptexMetrics();
    const approval = metrics.messagesOf('approval');
    const executor = metrics.messagesOf('executor');
    for (let i = 0; i < 3; i++) approval('ack');
    approval('retry');
    executor('ack');
    expect(await metrics.registry.metrics()).toContain('optex_messages_total{group="approval",outcome="ack"} 3');
    expect(await sample(metrics, 'approval', 'retry')).toBe(1);
    expect(await sample(metrics, 'executor', 'ack')).toBe(1);
    approval('ack');
    metrics.messagesOf('approval')('dead-letter'); // a second counter for the same group adds to the same figures
    expect(await sample(metrics, 'approval', 'ack')).toBe(4);
    expect(await sample(metrics, 'approval', 'dead-letter')).toBe(1);
    // Reading again without new messages changes nothing.
    expect(await metrics.registry.metrics()).toContain('optex_messages_total{group="approval",outcome="ack"} 4');
    expect(await sample(metrics, 'approval', 'retry')).toBe(1);
  });
});
