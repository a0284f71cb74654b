import { connect } from 'node:net';
import { createHttpApp, ServiceError } from '@chartwright/kit';
import { describe, expect, it } from 'vitest';
import { apiErrorHandler, installErrorHandlers } from '../src/errors.js';

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
    // Every 503 tells the client when to try again.
    expect(down.headers['retry-after']).toBe('2');
    await app.close();
  });

  it("answers its own database's lost connection (a restart, a terminated session) as 503 with Retry-After, not 500", async () => {
    const app = createHttpApp();
    installErrorHandlers(app);
    const lost = [
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      new Error('Connection terminated unexpectedly'),
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      new Error('Client has encountered a connection error and is not queryable'),
    ];
    for (const [i, err] of lost.entries())
      app.get(`/lost/${i}`, async () => {
        throw err;
      });
    app.get('/bug', async () => {
      throw Object.assign(new Error('syntax error at or near "selec"'), { code: '42601' });
    });
    for (let i = 0; i < lost.length; i++) {
      const res = await app.inject({ method: 'GET', url: `/lost/${i}` });
      expect(res.statusCode, lost[i]!.message).toBe(503);
      expect(res.headers['retry-after']).toBe('2');
      expect(res.json().error.code).toBe('SERVICE_UNAVAILABLE');
    }
    expect((await app.inject({ method: 'GET', url: '/bug' })).statusCode).toBe(500);
    await app.close();
  });

  it('answers a malformed request and an unknown route in the envelope', async () => {
    const app = createHttpApp();
    installErrorHandlers(app);
    app.get('/x', async () => ({ success: true, data: {} }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    try {
      const raw = (request: string) =>
        new Promise<string>((resolve, reject) => {
          const socket = connect(port, '127.0.0.1', () => socket.write(request));
          let out = '';
          socket.on('data', (b) => (out += b.toString()));
          socket.on('end', () => resolve(out));
          socket.on('error', reject);
        });
      // A header name with a space in it: Node's parser refuses it before Fastify routes.
      for (const request of [
        'GET /x HTTP/1.1\r\nHost: a\r\nBad Header: 1\r\n\r\n',
        'GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n',
      ]) {
        const answer = await raw(request);
        expect(answer).toMatch(/^HTTP\/1\.1 400 /);
        const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
        expect(body).toEqual({
          success: false,
          error: { code: 'VALIDATION_ERROR', message: expect.any(String) },
        });
      }
      const missing = await fetch(`http://127.0.0.1:${port}/nowhere`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toEqual({
        success: false,
        error: { code: 'NOT_FOUND', message: 'no route GET /nowhere' },
      });
    } finally {
      await app.close();
    }
  });

  it('keeps the envelope when a hook fails while an error is being answered (its database gone too)', async () => {
    const app = createHttpApp();
    installErrorHandlers(app);
    await app.register(async (child) => {
      child.setErrorHandler(apiErrorHandler);
      let failed = false;
      child.addHook('onSend', async (_req, reply, payload) => {
        // As the idempotency hook does: record the answer, in a database that is away.
        if (reply.statusCode >= 500 && !failed) {
          failed = true;
          throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
        }
        return payload;
      });
      child.get('/work', async () => {
        throw new ServiceError('SERVICE_UNAVAILABLE', 'the database is unavailable', {
          retryAfterSeconds: 2,
        });
      });
    });
    const res = await app.inject({ method: 'GET', url: '/work' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.json()).toMatchObject({ success: false, error: { code: 'SERVICE_UNAVAILABLE' } });
    await app.close();
  });
});
