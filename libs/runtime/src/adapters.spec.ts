import { Writable } from 'node:stream';
import { systemClock } from '@optex/ports';
import { createLogger } from '@optex/observability';
import { KafkaBus } from '@optex/messaging';
import { FLAG_NAMES, loadPolicy, openAdapters, openBus, openCloud, openStore, parseBusUrl, parseCloudUrl, UsageError } from './adapters';
import { SERVICE_SETTING_VARIABLES } from './service-process';

describe('adapter settings: errors name the flag (CLI) or the variable (service process) the value came from', () => {
  it.each([
    ['--store', (name?: string) => openStore('foo:bar', name), ': unsupported event store url "foo:bar"'],
    ['--bus', (name?: string) => openBus('notaurl', 'spec', 3, undefined, {}, name), ': expected memory or kafka://host:port[,host:port], got "notaurl"'],
    ['--cloud', (name?: string) => openCloud('gcp', 'memory:', systemClock, undefined, name), ': expected simulated:FLEET.json, aws or aws:ENDPOINT, got "gcp"'],
    ['--cloud', (name?: string) => openCloud('aws:moto', 'memory:', systemClock, undefined, name), ': aws:ENDPOINT needs an http(s) url, got "moto"'],
    ['--cloud', (name?: string) => openCloud('simulated:/nonexistent/fleet.json', 'memory:', systemClock, undefined, name), ': '],
    ['--policy', (name?: string) => loadPolicy('/nonexistent.json', false, name), ': cannot read /nonexistent.json: ENOENT'],
  ])('%s: %#', async (flag, open, message) => {
    await expect(open()).rejects.toThrow(UsageError);
    await expect(open()).rejects.toThrow(`${flag}${message}`);
    const variable = `OPTEX_${flag.slice(2).toUpperCase()}`;
    await expect(open(variable)).rejects.toThrow(`${variable}${message}`);
    await expect(open(variable)).rejects.not.toThrow(flag);
  });

  it('openAdapters names what SettingNames says, the flags by default', async () => {
    const logger = createLogger({ service: 'spec', level: 'silent' });
    const flags = { store: 'memory:', bus: 'memory', cloud: 'gcp' };
    await expect(openAdapters(flags, logger)).rejects.toThrow('--cloud: expected simulated:FLEET.json');
    await expect(openAdapters(flags, logger, { settingNames: SERVICE_SETTING_VARIABLES })).rejects.toThrow('OPTEX_CLOUD: expected simulated:FLEET.json');
    await expect(openAdapters({ ...flags, cloud: 'aws', bus: 'kafka://k' }, logger, { settingNames: SERVICE_SETTING_VARIABLES })).rejects.toThrow('OPTEX_BUS: expected memory or kafka://');
    await expect(openAdapters({ ...flags, cloud: 'aws', store: 'foo:bar' }, logger, { settingNames: SERVICE_SETTING_VARIABLES })).rejects.toThrow('OPTEX_STORE: unsupported event store url');
    await expect(openAdapters({ ...flags, cloud: 'aws', policy: '/nonexistent.json' }, logger, { settingNames: SERVICE_SETTING_VARIABLES })).rejects.toThrow('OPTEX_POLICY: cannot read /nonexistent.json');
    expect(FLAG_NAMES).toEqual({ store: '--store', bus: '--bus', cloud: '--cloud', policy: '--policy' });
  });

  it('parses bus urls without connecting: memory, or brokers that are host:port each', () => {
    expect(parseBusUrl('memory')).toEqual({ kind: 'memory' });
    expect(parseBusUrl('kafka://k:9092')).toEqual({ kind: 'kafka', brokers: ['k:9092'] });
    expect(parseBusUrl('kafka://a:1,b.example:65535,[::1]:9092')).toEqual({ kind: 'kafka', brokers: ['a:1', 'b.example:65535', '[::1]:9092'] });
    for (const url of ['kafka://', 'kafka://,', 'kafka://k', 'kafka://k:', 'kafka://k:0', 'kafka://k:65536', 'kafka://k:0x10', 'kafka://k:9092/x', 'kafka://:9092', 'Kafka://k:9092']) {
      expect(() => parseBusUrl(url, 'OPTEX_BUS')).toThrow(`OPTEX_BUS: expected memory or kafka://host:port[,host:port], got ${JSON.stringify(url)}`);
    }
  });

  it('parses cloud values without opening anything', () => {
    expect(parseCloudUrl('aws')).toEqual({ kind: 'aws' });
    expect(parseCloudUrl('aws:http://moto:5000')).toEqual({ kind: 'aws', endpoint: 'http://moto:5000' });
    expect(parseCloudUrl('simulated:examples/fleet.json')).toEqual({ kind: 'simulated', fleetFile: 'examples/fleet.json' });
    expect(() => parseCloudUrl('gcp')).toThrow('--cloud: expected simulated:FLEET.json, aws or aws:ENDPOINT, got "gcp"');
  });
});

describe('openBus on Kafka: log lines', () => {
  afterEach(() => jest.restoreAllMocks());

  it('carry "component" once: openBus binds none, the bus labels each line itself (kafkajs here)', async () => {
    const connect = KafkaBus.connect.bind(KafkaBus);
    // No broker listens on port 1: kafkajs logs (at debug) its attempt and its failure at once (one retry: the idempotent producer needs one).
    jest.spyOn(KafkaBus, 'connect').mockImplementation(async (options) => connect({ ...options, logLevel: 'debug', retries: 1, connectionTimeoutMs: 500 }));
    let text = '';
    const out = new Writable({
      write(chunk: Buffer, _encoding, done) {
        text += chunk.toString();
        done();
      },
    });
    const logger = createLogger({ service: 'spec', level: 'debug', destination: out });
    await expect(openBus('kafka://127.0.0.1:1', 'spec', 1, logger)).rejects.toThrow('kafka: connect to 127.0.0.1:1 failed');
    const lines = text.split('\n').filter((l) => l.length > 0);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect({ line, components: line.split('"component":').length - 1, services: line.split('"service":').length - 1 }).toEqual({ line, components: 1, services: 1 });
      expect(JSON.parse(line)).toMatchObject({ component: 'kafkajs', service: 'spec' });
    }
  });
});
