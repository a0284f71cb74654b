import net from 'node:net';
import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../vitest.shared.js';

const reachable = (url: string, fallbackPort: number) =>
  new Promise<boolean>((resolve) => {
    const u = new URL(url.split(',')[0]!.trim());
    const socket = net.connect({ host: u.hostname, port: Number(u.port || fallbackPort) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });

// Process-level tests: several services per test, so one file at a time. They need the real
// PostgreSQL and NATS; without them they are not run, and the run says so (in CI, the suites
// run and fail instead: a missing server must not pass silently).
export default defineConfig(async () => {
  const [pg, nats] = await Promise.all([
    reachable(process.env.DATABASE_URL ?? 'postgres://127.0.0.1:5432', 5432),
    reachable(process.env.NATS_URL ?? 'nats://127.0.0.1:4222', 4222),
  ]);
  const run = (pg && nats) || process.env.CI === 'true';
  if (!run)
    process.stderr.write('[chartwright e2e] not run: these suites need PostgreSQL and NATS JetStream.\n');
  return mergeConfig(
    shared,
    defineConfig({
      test: {
        fileParallelism: false,
        testTimeout: 120_000,
        // Checks every gateway answer against /openapi.json (test/openapi-check.ts).
        setupFiles: ['./test/setup.ts'],
        ...(run ? {} : { exclude: ['**/*'], passWithNoTests: true }),
      },
    }),
  );
});
