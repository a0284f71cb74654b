import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkAnswer } from '@chartwright/kit/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { checkedAnswers, specOf, takeViolations, watchGateway } from './openapi-check.js';
import { api, createStack, type Stack } from './support.js';

describe('every e2e answer is checked against the OpenAPI document [postgres] [jetstream]', () => {
  let stack: Stack;
  let fake: Server | undefined;
  afterAll(async () => {
    await new Promise((resolve) => (fake ? fake.close(resolve) : resolve(undefined)));
    await stack?.close();
  });

  it("passes the gateway's answers and fails a planted mismatch", async () => {
    stack = await createStack();
    const gateway = await stack.start('gateway', {}, { port: stack.gatewayPort });
    const spec = specOf(gateway.url)!;

    // Real answers (201, a 400, a 401, a 404 of no route) pass, and are counted as checked.
    const before = checkedAnswers();
    const signup = await api(gateway.url, 'POST', '/v1/auth/signup', {
      body: { email: 'spec@example.com', password: 'long enough pw' },
    });
    expect(signup.status).toBe(201);
    expect((await api(gateway.url, 'POST', '/v1/auth/signup', { body: { email: 'x' } })).status).toBe(400);
    expect((await api(gateway.url, 'GET', '/v1/charts')).status).toBe(401);
    expect((await api(gateway.url, 'GET', '/v1/nothing-here')).status).toBe(404);
    expect(await takeViolations()).toEqual([]);
    expect(checkedAnswers() - before).toBe(4);

    // A server answering the same routes wrongly: every kind of drift is caught through fetch.
    fake = createServer((req, res) => {
      const send = (status: number, type: string, body: string) =>
        res.writeHead(status, { 'content-type': type }).end(body);
      if (req.url === '/v1/auth/signup')
        return send(201, 'application/json', '{"success":true,"data":{"token":1}}');
      if (req.url === '/v1/user') return send(418, 'application/json', '{}');
      if (req.url?.startsWith('/v1/charts/')) return send(200, 'text/html', '<p>not an image</p>');
      return send(200, 'application/json', '{"success":true}');
    });
    await new Promise<void>((resolve) => fake!.listen(0, '127.0.0.1', resolve));
    const fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    await watchGateway(fakeUrl, spec);
    await api(fakeUrl, 'POST', '/v1/auth/signup', { body: { email: 'a@b.c', password: 'long enough pw' } });
    await api(fakeUrl, 'GET', '/v1/user');
    await api(fakeUrl, 'GET', '/v1/charts/0190a0a0-0000-7000-8000-0000000000c3/image');
    await api(fakeUrl, 'GET', '/v1/undocumented');
    const planted = await takeViolations();
    expect(planted).toEqual([
      expect.stringMatching(
        /^POST \/v1\/auth\/signup → 201: body\/data must have required property 'expiresAt'/,
      ),
      expect.stringMatching(/^POST \/v1\/auth\/signup → 201: body\/data must have required property 'user'/),
      expect.stringMatching(/^POST \/v1\/auth\/signup → 201: body\/data\/token must be string/),
      'GET /v1/user → 418: status 418 is not documented for GET /v1/user',
      expect.stringMatching(/^GET \/v1\/charts\/.+\/image → 200: content-type text\/html is not documented/),
      'GET /v1/undocumented → 200: no operation documents GET /v1/undocumented',
    ]);

    // The same check on a recorded answer, without a server: an error code another status carries.
    expect(
      checkAnswer(spec, {
        method: 'GET',
        path: '/v1/files/users/u/charts/c.png',
        status: 404,
        contentType: 'application/json; charset=utf-8',
        body: { success: false, error: { code: 'FORBIDDEN', message: 'x' } },
      }),
    ).toEqual([expect.stringMatching(/^body\/error\/code must be equal to one of the allowed values/)]);
  });
});
