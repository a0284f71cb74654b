import { createHttpApp, ServiceError } from '@chartwright/kit';
import { describe, expect, it } from 'vitest';
import { installErrorHandlers } from '../src/errors.js';

describe('error answers', () => {
  it("maps a service's error to its status and passes its retry time on as Retry-After", async () => {
    const app = createHttpApp();
    installErrorHandlers(app);
    app.get('/limited', async () => {
      throw new ServiceError('RATE_LIMIT_EXCEEDED', 'upstream allowance used', { retryAfterSeconds: 41.2 });
    });
    app.get('/down', async () => {
      throw new ServiceError('SERVICE_UNAVAILABLE', 'busy');
    });
    const limited = await app.inject({ method: 'GET', url: '/limited' });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('42');
    expect(limited.json()).toEqual({
      success: false,
      error: {
        code: 'RATE_LIMIT_EXCEEDED',
        message: 'upstream allowance used',
        details: { retryAfterSeconds: 41.2 },
      },
    });
    const down = await app.inject({ method: 'GET', url: '/down' });
    expect(down.statusCode).toBe(503);
    expect(down.headers['retry-after']).toBeUndefined();
    await app.close();
  });
});
