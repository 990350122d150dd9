import { withoutCredentials } from './urls';

describe('withoutCredentials', () => {
  it.each([
    ['esdb://admin:changeit@node:2113?tls=true', 'esdb://***@node:2113?tls=true'],
    ['esdb+discover://admin:p%40ss@a:2113,b:2113?tls=true', 'esdb+discover://***@a:2113,b:2113?tls=true'],
    ['esdb://admin:p@ss@node:2113', 'esdb://***@node:2113'],
    ['esdb://token@node:2113', 'esdb://***@node:2113'],
    ['https://user:secret@hooks.example/path?x=a@b', 'https://***@hooks.example/path?x=a@b'],
  ])('hides the credentials of %s', (url, expected) => {
    expect(withoutCredentials(url)).toBe(expected);
  });

  it.each(['esdb://node:2113?tls=false', 'kafka://127.0.0.1:9092', 'sqlite:/var/lib/optex/events.db', 'aws:http://127.0.0.1:5000', 'memory:', 'esdb://node:2113?tlsCAFile=/etc/ca@2.pem'])(
    'leaves %s as it is',
    (url) => {
      expect(withoutCredentials(url)).toBe(url);
    },
  );
});
