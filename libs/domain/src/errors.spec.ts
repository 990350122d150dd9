import { DomainError, isDomainError } from './errors';

describe('DomainError', () => {
  it('is an Error and a DomainError with its code, message and name', () => {
    const error = new DomainError('NOT_FOUND', 'no such optimization');
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: 'NOT_FOUND', message: 'no such optimization', name: 'DomainError' });
  });

  it('is never transient (infrastructure must not retry it)', () => {
    expect(new DomainError('INVALID_STATE', 'x').transient).toBe(false);
  });

  it('is recognised by isDomainError, optionally by code', () => {
    const error = new DomainError('OUT_OF_ORDER', 'x');
    expect(isDomainError(error)).toBe(true);
    expect(isDomainError(error, 'OUT_OF_ORDER')).toBe(true);
    expect(isDomainError(error, 'NOT_FOUND')).toBe(false);
    expect(isDomainError(new Error('x'))).toBe(false);
  });
});
