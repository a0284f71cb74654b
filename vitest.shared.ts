import path from 'node:path';
import { defineConfig } from 'vitest/config';

// CI collects each package's results as JSON to print one closing tally.
const jsonDir = process.env.VITEST_JSON_DIR;

/** Shared vitest settings: workspace packages resolve to their TypeScript sources. */
export default defineConfig({
  resolve: { conditions: ['development', 'node'] },
  ssr: { resolve: { conditions: ['development', 'node'], externalConditions: ['development'] } },
  test: {
    environment: 'node',
    testTimeout: 30_000,
    passWithNoTests: true,
    hookTimeout: 60_000,
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    ...(jsonDir
      ? {
          reporters: ['default', 'json'],
          outputFile: { json: path.join(jsonDir, `${path.basename(process.cwd())}.json`) },
        }
      : {}),
  },
});
