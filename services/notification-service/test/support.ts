import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { analysisService } from '@chartwright/analysis-service';
import { startGateway } from '@chartwright/gateway';
import {
  createHttpApp,
  createLogger,
  type MessageBus,
  publishEvent,
  type RunningService,
  type ServiceFactory,
} from '@chartwright/kit';
import { chartGeneratedEvent, chartKnownToAnalysis, type TestDatabase } from '@chartwright/kit/testing';
import { chartObjectKey, FolderObjectStore } from '@chartwright/object-store';
import { startQuotaService } from '@chartwright/quota-service';

export interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}

/**
 * A local webhook receiver. Each path answers as `behave(path, count)` says: a status code, or
 * `hang` (holds the connection, never answers). Everything received is kept in `received`.
 */
export async function startReceiver(
  behave: (
    path: string,
    count: number,
  ) => number | 'hang' | { status: number; headers: Record<string, string> } = () => 200,
) {
  const received: Received[] = [];
  const counts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const n = (counts.get(path) ?? 0) + 1;
      counts.set(path, n);
      received.push({
        path,
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        body: Buffer.concat(chunks).toString(),
        at: Date.now(),
      });
      const b = behave(path, n);
      if (b === 'hang') return;
      if (typeof b === 'number') res.writeHead(b, { 'content-type': 'text/plain' }).end(`answer ${b}`);
      else res.writeHead(b.status, b.headers).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    received,
    at: (path: string) => received.filter((r) => r.path === path),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
export type Receiver = Awaited<ReturnType<typeof startReceiver>>;

export const SECRET = 'test-secret-that-is-at-least-32-bytes-long!';

export interface Reply {
  statusCode: number;
  body: string;
  json(): any;
}
type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export interface Stack {
  services: RunningService[];
  chartOf(userId: string, chartId: string): Promise<void>;
  call(token: string | undefined, method: Method, url: string, payload?: unknown): Promise<Reply>;
  signup(email: string): Promise<{ token: string; user: { id: string; email: string } }>;
  close(): Promise<void>;
}

/** quota-, analysis-, notification-service and the gateway in this process, as the embedded app mounts them. */
export async function startStack(
  bus: MessageBus,
  db: TestDatabase,
  dir: string,
  env: Record<string, string>,
  notification: ServiceFactory,
): Promise<Stack> {
  const logger = createLogger('test', 'silent');
  const rtEnv = {
    JWT_SECRET: SECRET,
    SIGNING_SECRET: SECRET,
    NODE_ENV: 'test',
    RATE_LIMIT_AUTH_PER_MIN: '100000',
    RATE_LIMIT_GENERAL_PER_MIN: '100000',
    RATE_LIMIT_FREE_PER_MIN: '1000',
    DATA_DIR: dir,
    ANALYSIS_TMP_DIR: `${dir}/tmp`,
    S3_BUCKET: '',
    // Tests never reach the internet: no Binance behind the default MARKET_DATA=auto.
    MARKET_DATA: 'synthetic',
    ...env,
  };
  const objects = new FolderObjectStore(`${dir}/objects`);
  const services: RunningService[] = [];
  for (const f of [startQuotaService, notification, analysisService({ objects }), startGateway])
    services.push(await f({ bus, database: db.target, logger, env: rtEnv }));
  const app = createHttpApp();
  for (const s of services) if (s.routes) await s.routes(app);
  await app.ready();

  const PNG = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    Buffer.alloc(256, 7),
  ]);
  return {
    services,
    /** A chart of `userId` as chart-service would announce it. */
    async chartOf(userId: string, chartId: string) {
      const objectKey = chartObjectKey(userId, chartId, 'png');
      await objects.put(objectKey, PNG, 'image/png');
      await publishEvent(
        bus,
        chartGeneratedEvent({
          chartId,
          userId,
          objectKey,
          size: PNG.length,
          symbol: 'BINANCE:ETHUSDT',
          interval: '1h',
        }),
      );
      await chartKnownToAnalysis(db.target, chartId);
    },
    call(
      token: string | undefined,
      method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
      url: string,
      payload?: unknown,
    ) {
      return app.inject({
        method,
        url,
        payload: payload as never,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
    },
    async signup(email: string) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/auth/signup',
        payload: { email, password: 'a long password' },
      });
      if (res.statusCode !== 201) throw new Error(`signup failed: ${res.statusCode} ${res.body}`);
      const body = res.json();
      return { token: body.data.token as string, user: body.data.user as { id: string; email: string } };
    },
    async close() {
      await app.close();
      for (const s of services.reverse()) await s.stop();
    },
  };
}
