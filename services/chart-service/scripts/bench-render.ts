/**
 * Render benchmark: 1200×675 PNG, 300 bars, 3 studies, 2 drawings.
 * Run from services/chart-service: node --conditions=development --import tsx scripts/bench-render.ts [renders]
 */
import { availableParallelism } from 'node:os';
import { ChartConfig } from '@chartwright/contracts';
import { generateBars } from '@chartwright/market';
import { fontSetup, type RenderInput, RenderPool, renderChart } from '../src/render/index.js';

const N = Number(process.argv[2] ?? 200);
const bars = generateBars('BINANCE:BTCUSDT', '1h', 300, { end: Date.UTC(2025, 5, 1) });
const last = bars.at(-1)!;
const first = bars[100]!;
const config = ChartConfig.parse({
  symbol: 'BINANCE:BTCUSDT',
  interval: '1h',
  width: 1200,
  height: 675,
  format: 'png',
  studies: [
    { name: 'Volume' },
    { name: 'Bollinger Bands', input: { period: 20, stddev: 2 } },
    { name: 'Relative Strength Index', input: { period: 14 } },
  ],
  drawings: [
    { name: 'Horizontal Line', input: { price: last.close * 1.02, text: 'Resistance' } },
    {
      name: 'Trend Line',
      input: { startDatetime: first.time, startPrice: first.low, endDatetime: last.time, endPrice: last.low },
    },
  ],
});
const input: RenderInput = { config, bars, synthetic: false };

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const fmt = (v: number) => v.toFixed(1);

console.log(`fonts: ${fontSetup().origin} (${fontSetup().files.join(', ')})`);
console.log(`renders: ${N}, cores: ${availableParallelism()}`);

// Single thread.
for (let i = 0; i < 10; i++) await renderChart(input);
const times: number[] = [];
const t0 = performance.now();
for (let i = 0; i < N; i++) {
  const t = performance.now();
  await renderChart(input);
  times.push(performance.now() - t);
}
const single = (N / (performance.now() - t0)) * 1000;
console.log(
  `single thread : p50 ${fmt(pct(times, 50))} ms  p95 ${fmt(pct(times, 95))} ms  ${fmt(single)} charts/s`,
);

// Worker threads, one per core, all renders in flight.
for (const size of [...new Set([1, availableParallelism()])]) {
  const pool = new RenderPool({ size });
  await Promise.all(Array.from({ length: size * 5 }, () => pool.render(input)));
  const latencies: number[] = [];
  const t1 = performance.now();
  await Promise.all(
    Array.from({ length: N }, async () => {
      const t = performance.now();
      await pool.render(input);
      latencies.push(performance.now() - t);
    }),
  );
  const rate = (N / (performance.now() - t1)) * 1000;
  // Latency without queueing: as many renders in flight as workers.
  const service: number[] = [];
  for (let round = 0; round < Math.ceil(60 / size); round++) {
    await Promise.all(
      Array.from({ length: size }, async () => {
        const t = performance.now();
        await pool.render(input);
        service.push(performance.now() - t);
      }),
    );
  }
  await pool.close();
  console.log(
    `pool × ${size}      : p50 ${fmt(pct(service, 50))} ms  p95 ${fmt(pct(service, 95))} ms  ${fmt(rate)} charts/s` +
      `  (all ${N} queued at once: p50 wait+render ${fmt(pct(latencies, 50))} ms)`,
  );
}
