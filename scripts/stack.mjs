#!/usr/bin/env node
// Runs the distributed stack on one machine: each service its own process against the
// PostgreSQL, NATS JetStream and Redis given by DATABASE_URL / NATS_URL / REDIS_URL (defaults:
// the local servers). Object storage: S3 when S3_BUCKET is set, else a shared folder.
// Ctrl-C stops them all gracefully.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const env = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/chartwright',
  NATS_URL: 'nats://127.0.0.1:4222',
  REDIS_URL: 'redis://127.0.0.1:6379',
  DATA_DIR: path.join(root, '.data', 'stack'),
  PUBLIC_URL: `http://127.0.0.1:${process.env.PORT ?? 3000}`,
  ...process.env,
};
const services = [
  ['quota-service', 3004],
  ['notification-service', 3005],
  ['outcome-service', 3006],
  ['storage-service', 3003],
  ['chart-service', 3001],
  ['analysis-service', 3002],
  ['gateway', Number(process.env.PORT ?? 3000)],
];

if (!process.env.DATABASE_URL) {
  // Create the default database if it is missing (trust auth on the local server).
  const pg = await import('pg');
  const admin = new pg.default.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await admin.connect();
  const { rowCount } = await admin.query(`select 1 from pg_database where datname = 'chartwright'`);
  if (!rowCount) await admin.query('create database chartwright');
  await admin.end();
}

const children = services.map(([name, port]) => {
  const child = spawn(
    process.execPath,
    ['--conditions=development', '--import', 'tsx', path.join(root, 'services', name, 'src', 'main.ts')],
    { cwd: root, env: { ...env, PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const tag = `[${name}]`.padEnd(19);
  for (const stream of [child.stdout, child.stderr]) {
    let buf = '';
    stream.on('data', (d) => {
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const line of lines) process.stdout.write(`${tag} ${line}\n`);
    });
  }
  child.on('exit', (code, signal) => process.stdout.write(`${tag} exited (${code ?? signal})\n`));
  return child;
});
process.stdout.write(
  `Chartwright stack: API at ${env.PUBLIC_URL}; health of each service on ports 3001-3005; mails as .eml files under ${env.DATA_DIR}/mail unless SMTP_URL is set\n`,
);
const stop = () => {
  for (const c of children) c.kill('SIGTERM');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
