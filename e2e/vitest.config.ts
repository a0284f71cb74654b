import { detectInfra } from '@chartwright/kit/testing';
import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../vitest.shared.js';

// Process-level tests: several services per test, so one file at a time. They need the real
// PostgreSQL and NATS; without them (and outside CI, where detectInfra fails the run) they are
// not run, and the run says so.
export default defineConfig(async () => {
  const infra = await detectInfra();
  const real = Boolean(infra.postgresUrl && infra.natsUrl);
  if (!real)
    process.stderr.write('[chartwright e2e] not run: these suites need PostgreSQL and NATS JetStream.\n');
  return mergeConfig(
    shared,
    defineConfig({
      test: {
        fileParallelism: false,
        testTimeout: 120_000,
        ...(real ? {} : { exclude: ['**/*'], passWithNoTests: true }),
      },
    }),
  );
});
