/**
 * Creates or updates the JetStream streams (`STREAMS` of @chartwright/contracts), then exits. On a
 * locked-down NATS only the provisioning user may manage streams, and the services only check that
 * theirs exist, so this runs first (compose: `nats-provision`; Kubernetes: the `nats-provision`
 * Job). Reads NATS_URL, BUS_PREFIX and the credentials variables, like a service.
 *   NATS_URL=… NATS_USER=provision NATS_PASSWORD=… pnpm nats:provision
 */
import { JetStreamBus } from '../bus/jetstream.js';
import { CommonEnv, natsAuthFromEnv, parseEnv } from '../config.js';
import { createLogger } from '../logger.js';

try {
  const cfg = parseEnv(CommonEnv);
  if (!cfg.NATS_URL) throw new Error('NATS_URL: required');
  const logger = createLogger('nats-provision', cfg.LOG_LEVEL);
  const bus = await JetStreamBus.connect({
    servers: cfg.NATS_URL.split(',').map((s) => s.trim()),
    name: 'provision',
    logger,
    streamPrefix: cfg.BUS_PREFIX ? `${cfg.BUS_PREFIX}_` : undefined,
    auth: natsAuthFromEnv(cfg),
  });
  await bus.ensureStreams();
  await bus.close();
  logger.info('streams provisioned');
  process.exit(0);
} catch (err) {
  process.stderr.write(`nats-provision: ${(err as Error).message}\n`);
  process.exit(1);
}
