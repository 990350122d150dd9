import { Partitioners } from 'kafkajs';
import { executionKeyOf } from '@optex/messaging';
import { CHAOS_REGIONS } from './chaos';

// The CI chaos run asserts that both executors of one consumer group execute something. The executions topic is keyed
// per account and region, so that holds only if the run's account-regions cover every partition of the topic (three in
// the run): whichever partitions the group hands an executor then carry work.
it('the chaos regions put executions on every partition of a three-partition executions topic', () => {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = [0, 1, 2].map((partitionId) => ({ partitionId, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));
  const partitions = CHAOS_REGIONS.map((region) => {
    const key = executionKeyOf({ stream: 'optimization-x', metadata: { resourceKey: `123456789012/${region}/vol-1` } });
    return partitioner({ topic: 'optex.internal.executions.v1', partitionMetadata, message: { key, value: '' } });
  });
  expect(new Set(partitions)).toEqual(new Set([0, 1, 2]));
});
