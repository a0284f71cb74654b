import type { FastifyInstance } from 'fastify';

export type ReadinessCheck = () => Promise<void>;

/**
 * `/health`: the process is alive (no dependencies checked, so a database outage does not get
 * pods restarted). `/ready`: every dependency answers within `timeoutMs`; 503 otherwise.
 */
export function registerHealthRoutes(
  app: FastifyInstance,
  checks: () => Record<string, ReadinessCheck>,
  opts: { timeoutMs?: number; isShuttingDown?: () => boolean } = {},
): void {
  app.get('/health', { logLevel: 'warn' }, async () => ({ status: 'ok' }));
  app.get('/ready', { logLevel: 'warn' }, async (_req, reply) => {
    if (opts.isShuttingDown?.()) return reply.code(503).send({ status: 'shutting_down', checks: {} });
    const results: Record<string, 'ok' | 'failed'> = {};
    await Promise.all(
      Object.entries(checks()).map(async ([name, check]) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            check(),
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error('timed out')), opts.timeoutMs ?? 2_000);
            }),
          ]);
          results[name] = 'ok';
        } catch (err) {
          // The answer is public (probes, load balancers): details go to the log only.
          results[name] = 'failed';
          app.log.warn({ err, check: name }, 'readiness check failed');
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    const ok = Object.values(results).every((r) => r === 'ok');
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', checks: results });
  });
}
