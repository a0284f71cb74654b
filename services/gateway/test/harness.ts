import {
  createHttpApp,
  createLogger,
  type MessageBus,
  type RunningService,
  type ServiceFactory,
} from '@chartwright/kit';
import { checkAnswer, type OpenApiDocument, type TestDatabase } from '@chartwright/kit/testing';
import { startQuotaService } from '@chartwright/quota-service';
import type { FastifyInstance } from 'fastify';
import { startGateway } from '../src/index.js';

export interface Harness {
  app: FastifyInstance;
  services: RunningService[];
  close(): Promise<void>;
}

export const ADMIN = { email: 'admin@example.com', password: 'admin password 123' };
export const SECRET = 'test-secret-that-is-at-least-32-bytes-long!';

/**
 * quota-service and the gateway in this process, on the given bus and database, plus any `extra`
 * services (started between the two, stopped before quota-service).
 */
export async function startHarness(
  bus: MessageBus,
  db: TestDatabase,
  env: Record<string, string> = {},
  extra: ServiceFactory[] = [],
): Promise<Harness> {
  const logger = createLogger('test', 'silent');
  const rtEnv = {
    JWT_SECRET: SECRET,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    RATE_LIMIT_AUTH_PER_MIN: '100000',
    RATE_LIMIT_GENERAL_PER_MIN: '100000',
    ...env,
  };
  const services = [await startQuotaService({ bus, database: db.target, logger, env: rtEnv })];
  for (const factory of extra) services.push(await factory({ bus, database: db.target, logger, env: rtEnv }));
  services.push(await startGateway({ bus, database: db.target, logger, env: rtEnv }));
  const app = createHttpApp();
  const answers = recordAnswers(app);
  for (const s of services) if (s.routes) await s.routes(app);
  await app.ready();
  return {
    app,
    services,
    async close() {
      const violations = await answers.check();
      await app.close();
      for (const s of services.reverse()) await s.stop();
      if (violations.length)
        throw new Error(`answers that do not match the OpenAPI document:\n  ${violations.join('\n  ')}`);
    },
  };
}

export async function signup(app: FastifyInstance, email: string, password = 'a long password') {
  const res = await app.inject({ method: 'POST', url: '/v1/auth/signup', payload: { email, password } });
  if (res.statusCode !== 201) throw new Error(`signup failed: ${res.statusCode} ${res.body}`);
  const body = res.json();
  return { token: body.data.token as string, user: body.data.user as { id: string; email: string } };
}

/**
 * Every `/v1` answer the tests get, checked at `close()` against the app's own OpenAPI document:
 * an undocumented status or media type, or a JSON body its schema refuses, fails the suite.
 */
function recordAnswers(app: FastifyInstance) {
  const seen = new Map<
    string,
    { method: string; path: string; status: number; type: string | null; body: unknown }
  >();
  app.addHook('onSend', async (req, reply, payload) => {
    const path = req.url.split('?')[0]!;
    if (!path.startsWith('/v1/')) return payload;
    const type = reply.getHeader('content-type');
    const body = typeof payload === 'string' ? payload : undefined;
    const key = `${req.method} ${path} ${reply.statusCode} ${type} ${body}`;
    seen.set(key, {
      method: req.method,
      path,
      status: reply.statusCode,
      type: type ? String(type) : null,
      body,
    });
    return payload;
  });
  return {
    async check(): Promise<string[]> {
      const spec = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as OpenApiDocument;
      const problems = new Set<string>();
      for (const a of seen.values()) {
        let body: unknown = a.body;
        try {
          body = JSON.parse(String(a.body));
        } catch {}
        const answer = { method: a.method, path: a.path, status: a.status, contentType: a.type, body };
        for (const p of checkAnswer(spec, answer, { skipBody: a.body === undefined }))
          problems.add(`${a.method} ${a.path} → ${a.status}: ${p}`);
      }
      return [...problems];
    },
  };
}
