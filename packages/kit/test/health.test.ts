import net from 'node:net';
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

describe('an HTTP server draining', () => {
  it('finishes the requests running at close, and answers new ones on open connections with the error envelope and Retry-After', async () => {
    const app = createHttpApp();
    registerHealthRoutes(app, () => ({}), { isShuttingDown: () => closing });
    let closing = false;
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    app.get('/slow', async () => {
      await released;
      return { slow: true };
    });
    app.get('/fast', async () => ({ fast: true }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as net.AddressInfo).port;
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = '';
    socket.on('data', (d) => {
      received += d;
    });
    const ended = new Promise((r) => socket.on('close', r));
    const get = (path: string) =>
      socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n`);
    await new Promise((r) => socket.once('connect', r));
    get('/slow');
    await new Promise((r) => setTimeout(r, 100));
    closing = true;
    const closed = app.close();
    await new Promise((r) => setTimeout(r, 100));
    // The connection is busy (so still open): a request on it during the drain is refused.
    get('/fast');
    await new Promise((r) => setTimeout(r, 100));
    release();
    await closed;
    await ended;
    const [first, second] = received.split(/(?=HTTP\/1\.1 )/);
    expect(first).toMatch(/^HTTP\/1\.1 200/);
    expect(first).toContain('{"slow":true}');
    expect(second).toMatch(/^HTTP\/1\.1 503/);
    expect(second).toMatch(/retry-after: 1/i);
    expect(second!.slice(second!.indexOf('\r\n\r\n') + 4)).toBe(
      JSON.stringify({
        success: false,
        error: { code: 'SERVICE_UNAVAILABLE', message: 'the server is shutting down; try again' },
      }),
    );
  });
});
