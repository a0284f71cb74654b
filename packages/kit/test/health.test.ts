import { describe, expect, it } from 'vitest';
import { registerHealthRoutes } from '../src/http/health.js';
import { createHttpApp } from '../src/http/server.js';

describe('health routes', () => {
  it('answers /ready with each check ok or failed, keeping failure details out of the public answer', async () => {
    const app = createHttpApp();
    let dbDown = false;
    registerHealthRoutes(app, () => ({
      bus: async () => undefined,
      database: async () => {
        if (dbDown) throw new Error('connect ECONNREFUSED 10.1.2.3:5432 (user chartwright)');
      },
    }));
    expect((await app.inject({ url: '/health' })).json()).toEqual({ status: 'ok' });
    const ready = await app.inject({ url: '/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', checks: { bus: 'ok', database: 'ok' } });
    dbDown = true;
    const notReady = await app.inject({ url: '/ready' });
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json()).toEqual({ status: 'not_ready', checks: { bus: 'ok', database: 'failed' } });
    expect(notReady.body).not.toContain('10.1.2.3');
    await app.close();
  });
});
