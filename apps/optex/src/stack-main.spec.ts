import { DEFAULT_STACK_DIR, stopCommand, upSummary } from './stack-main';

describe('stack up: how to stop the stack it started', () => {
  it('repeats --dir when the stack is not in the default directory', () => {
    expect(stopCommand('/tmp/my-stack')).toBe('npm run -s stack -- down --dir /tmp/my-stack');
    expect(stopCommand('.optex/other')).toBe('npm run -s stack -- down --dir .optex/other');
    expect(upSummary({ startedInMs: 12_345, dir: '/abs/tmp/my-stack' }, 'tmp/my-stack')).toBe('stack up in 12.3 s; logs in /abs/tmp/my-stack; stop it with: npm run -s stack -- down --dir tmp/my-stack');
  });

  it('needs no --dir for the default one', () => {
    expect(DEFAULT_STACK_DIR).toBe('.optex/stack');
    expect(stopCommand(DEFAULT_STACK_DIR)).toBe('npm run -s stack -- down');
  });

  it('quotes a directory the shell would split or expand', () => {
    expect(stopCommand('/tmp/my stack')).toBe("npm run -s stack -- down --dir '/tmp/my stack'");
    expect(stopCommand("/tmp/it's $HOME")).toBe("npm run -s stack -- down --dir '/tmp/it'\\''s $HOME'");
  });
});
