// Writes asyncapi.json next to package.json: `pnpm --filter @chartwright/contracts asyncapi`.
import { writeFileSync } from 'node:fs';
import { buildAsyncApi } from '../src/asyncapi.js';

const out = new URL('../asyncapi.json', import.meta.url);
writeFileSync(out, `${JSON.stringify(buildAsyncApi(), null, 2)}\n`);
console.log(`wrote ${out.pathname}`);
