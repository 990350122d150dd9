import { defaultIntakeLimits } from '@optex/domain';
import { configFromEnv } from './service-process';

describe('service process configuration from the environment', () => {
  it('has defaults for everything, and the risk-assessor runs the relay', () => {
    expect(configFromEnv('risk-assessor', {})).toMatchObject({
      bus: 'kafka://127.0.0.1:9092',
      cloud: 'aws',
      partitions: 3,
      httpHost: '127.0.0.1',
      httpPort: 8080,
      relay: true,
      batchMode: 'parallel',
      maxParallel: 4,
      maxAttempts: 5,
      ec2CallDelayMs: 0,
      intakeLimits: defaultIntakeLimits,
      heapGrowthPercent: 50,
    });
    expect(configFromEnv('executor', {}).relay).toBe(false);
  });

  it('reads every variable', () => {
    const config = configFromEnv('scheduler', {
      OPTEX_STORE: 'esdb://es:2113?tls=false',
      OPTEX_BUS: 'kafka://k:9092',
      OPTEX_CLOUD: 'aws:http://moto:5000',
      OPTEX_POLICY: '/etc/optex/policy.json',
      OPTEX_PARTITIONS: '12',
      OPTEX_HTTP_HOST: '0.0.0.0',
      OPTEX_HTTP_PORT: '9100',
      OPTEX_RELAY: 'true',
      OPTEX_BATCH_MODE: 'region-grouped',
      OPTEX_MAX_PARALLEL: '8',
      OPTEX_BATCH_WINDOW_MS: '250',
      OPTEX_BATCH_QUIET_MS: '0',
      OPTEX_MAX_ATTEMPTS: '7',
      OPTEX_WAIT_TIMEOUT_MS: '60000',
      OPTEX_EC2_CALL_DELAY_MS: '150',
      OPTEX_KAFKA_SESSION_TIMEOUT_MS: '10000',
      OPTEX_MAX_RECORD_BYTES: '4096',
      OPTEX_MAX_STRING_LENGTH: '256',
      OPTEX_MAX_DEPTH: '6',
      OPTEX_MAX_TAGS: '10',
      OPTEX_HEAP_GROWTH_PERCENT: '150',
    });
    expect(config).toEqual({
      store: 'esdb://es:2113?tls=false',
      bus: 'kafka://k:9092',
      cloud: 'aws:http://moto:5000',
      policy: '/etc/optex/policy.json',
      partitions: 12,
      httpHost: '0.0.0.0',
      httpPort: 9100,
      relay: true,
      batchMode: 'region-grouped',
      maxParallel: 8,
      batchWindowMs: 250,
      batchQuietMs: 0,
      maxAttempts: 7,
      waitTimeoutMs: 60000,
      ec2CallDelayMs: 150,
      kafkaSessionTimeoutMs: 10000,
      intakeLimits: { maxRecordBytes: 4096, maxStringLength: 256, maxDepth: 6, maxTags: 10, maxFileBytes: defaultIntakeLimits.maxFileBytes },
      heapGrowthPercent: 150,
    });
    expect(configFromEnv('executor', { OPTEX_HEAP_GROWTH_PERCENT: 'v8' }).heapGrowthPercent).toBeUndefined();
  });

  it.each([
    ['OPTEX_PARTITIONS', '0', /OPTEX_PARTITIONS must be an integer ≥ 1/],
    ['OPTEX_HTTP_PORT', 'eighty', /OPTEX_HTTP_PORT/],
    ['OPTEX_BATCH_MODE', 'random', /OPTEX_BATCH_MODE must be one of/],
    ['OPTEX_MAX_PARALLEL', '1.5', /OPTEX_MAX_PARALLEL/],
    ['OPTEX_BATCH_WINDOW_MS', '0', /OPTEX_BATCH_WINDOW_MS must be an integer ≥ 1, got "0"/],
    ['OPTEX_BATCH_QUIET_MS', '-5', /OPTEX_BATCH_QUIET_MS must be an integer ≥ 0, got "-5"/],
    ['OPTEX_KAFKA_SESSION_TIMEOUT_MS', '100', /OPTEX_KAFKA_SESSION_TIMEOUT_MS must be an integer ≥ 6000/],
    ['OPTEX_MAX_DEPTH', '0', /OPTEX_MAX_DEPTH must be a whole number ≥ 1, got "0"/],
    ['OPTEX_MAX_RECORD_BYTES', '64k', /OPTEX_MAX_RECORD_BYTES must be a whole number ≥ 1, got "64k"/],
    ['OPTEX_HEAP_GROWTH_PERCENT', '5', /OPTEX_HEAP_GROWTH_PERCENT must be an integer from 10 to 1000, or v8 \(V8's own policy\), got "5"/],
  ])('rejects %s=%s naming the variable', (name, value, message) => {
    expect(() => configFromEnv('approval', { [name]: value })).toThrow(message);
  });
});
