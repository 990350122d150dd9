import { progressMode, progressReporter } from './progress';

describe('progress on stderr', () => {
  it('is shown only when stderr is a terminal', () => {
    expect(progressMode({ isTTY: true }, { TERM: 'xterm-256color' })).toBe('live');
    expect(progressMode({ isTTY: true }, {})).toBe('live');
    expect(progressMode({ isTTY: false }, { TERM: 'xterm-256color' })).toBe('off');
    expect(progressMode({}, { TERM: 'xterm-256color' })).toBe('off'); // a pipe or a file: isTTY is undefined
  });

  it('prints whole lines on a terminal that cannot erase one (TERM=dumb)', () => {
    expect(progressMode({ isTTY: true }, { TERM: 'dumb' })).toBe('lines');
    const written: string[] = [];
    const reporter = progressReporter('lines', (s) => written.push(s));
    reporter.line('… 1/2 optimizations settled after 1 s (4 events)');
    reporter.done();
    expect(written).toEqual(['… 1/2 optimizations settled after 1 s (4 events)\n']);
  });

  it('rewrites one line in place on a terminal and erases it at the end', () => {
    const written: string[] = [];
    const reporter = progressReporter('live', (s) => written.push(s));
    reporter.line('… 1/2 settled');
    reporter.line('… 2/2 settled');
    reporter.done();
    expect(written).toEqual(['\r\x1b[2K… 1/2 settled', '\r\x1b[2K… 2/2 settled', '\r\x1b[2K']);
  });

  it('erases nothing when no line was shown (a run shorter than a second)', () => {
    const written: string[] = [];
    progressReporter('live', (s) => written.push(s)).done();
    expect(written).toEqual([]);
  });
});
