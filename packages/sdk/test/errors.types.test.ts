import { describe, expect, expectTypeOf, it } from 'vitest';
import { ApiError, type ErrorCode, isApiError } from '../src/index.js';

// Checked by `tsc --noEmit` (the typecheck task): the narrowing below must compile, and the
// misspelt code must not.
describe('typed errors', () => {
  it('narrow by code', () => {
    const err: unknown = new ApiError(402, 'QUOTA_EXCEEDED', 'quota', undefined, new Headers(), {
      method: 'POST',
      url: '/v1/charts/generate',
    });
    if (isApiError(err)) {
      expectTypeOf(err.code).toEqualTypeOf<ErrorCode>();
      if (err.code === 'QUOTA_EXCEEDED') {
        expectTypeOf(err).toEqualTypeOf<ApiError<'QUOTA_EXCEEDED'>>();
        expectTypeOf(err.code).toEqualTypeOf<'QUOTA_EXCEEDED'>();
      }
      // @ts-expect-error: not a code the API answers with
      expect(err.code === 'QUOTA_EXCEDED').toBe(false);
    }
    if (isApiError(err, 'NOT_FOUND')) expectTypeOf(err.code).toEqualTypeOf<'NOT_FOUND'>();
    expect(isApiError(err, 'QUOTA_EXCEEDED')).toBe(true);
    expect(isApiError(err, 'NOT_FOUND')).toBe(false);
    expect(isApiError(new Error('x'))).toBe(false);
  });
});
