import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger, JetStreamBus } from '@chartwright/kit';
import {
  createTestDatabase,
  detectInfra,
  freePort,
  REPO_ROOT,
  type ServiceProcess,
  startServiceProcess,
  uniqueName,
} from '@chartwright/kit/testing';
import { Chartwright } from '../../src/index.js';

export interface EmbeddedApp {
  url: string;
  env: Record<string, string>;
  process: ServiceProcess;
  /** A new account (pro plan unless told) and a client logged in as it. */
  user(opts?: { plan?: 'free' | 'pro' | 'enterprise' }): Promise<{
    id: string;
    email: string;
    password: string;
    token: string;
    client: Chartwright;
  }>;
  close(): Promise<void>;
}

const ADMIN = { email: 'admin@sdk-tests.example', password: 'admin password long' };

/**
 * The embedded app (every service in one process, `apps/embedded`) as a child process, on the
 * real PostgreSQL (a fresh database), NATS (its own stream prefix) and Redis (its own key
 * prefix), with a temp folder as object store.
 */
export async function startEmbeddedApp(extraEnv: Record<string, string> = {}): Promise<EmbeddedApp> {
  const infra = await detectInfra();
  if (!infra.postgresUrl || !infra.natsUrl) throw new Error('these tests need PostgreSQL and NATS');
  const db = await createTestDatabase();
  if (!db) throw new Error('no database');
  const prefix = uniqueName('SDK').toUpperCase();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'cw-sdk-app-'));
  const port = await freePort();
  const env: Record<string, string> = {
    DATABASE_URL: db.url,
    DATABASE_POOL_MAX: '4',
    NATS_URL: infra.natsUrl,
    BUS_PREFIX: prefix,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_KEY_PREFIX: `${prefix}:`,
    DATA_DIR: dataDir,
    RATE_LIMIT_AUTH_PER_MIN: '1000',
    RATE_LIMIT_PRO_PER_MIN: '1000',
    SIGNING_SECRET: randomBytes(32).toString('hex'),
    JWT_SECRET: randomBytes(32).toString('hex'),
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    ...extraEnv,
  };
  let proc: ServiceProcess;
  try {
    proc = await startServiceProcess('embedded', env, {
      port,
      entry: path.join(REPO_ROOT, 'apps/embedded/src/main.ts'),
      timeoutMs: 90_000,
    });
  } catch (err) {
    await db.drop();
    throw err;
  }
  const url = proc.url;
  const anonymous = new Chartwright({ baseUrl: url });
  const admin = anonymous.withCredentials({ token: (await anonymous.auth.login(ADMIN)).token });
  return {
    url,
    env,
    process: proc,
    async user(opts = {}) {
      const email = `${uniqueName('u')}@example.com`;
      const password = 'long enough password';
      const session = await anonymous.auth.signup({ email, password });
      if (!('token' in session)) throw new Error('signup asks for email verification (SIGNUP_VERIFY_EMAIL)');
      const plan = opts.plan ?? 'pro';
      if (plan !== 'free')
        await admin.api.PATCH('/v1/admin/users/{id}/plan', {
          params: { path: { id: session.user.id } },
          body: { plan },
        });
      return {
        id: session.user.id,
        email,
        password,
        token: session.token,
        client: anonymous.withCredentials({ token: session.token }),
      };
    },
    async close() {
      await proc.stop('SIGTERM');
      const bus = await JetStreamBus.connect({
        servers: infra.natsUrl!,
        name: 'sdk-test-cleanup',
        logger: createLogger('t', 'silent'),
        streamPrefix: `${prefix}_`,
      });
      await bus.deleteStreams();
      await bus.close();
      await db.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
