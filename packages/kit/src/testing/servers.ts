import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './processes.js';

/**
 * Private PostgreSQL and NATS servers for fault tests: their own data directory under a temp
 * dir and a free port, so a test can stop, kill and restart them without touching the shared
 * servers. Both are killed and removed by `destroy()`, and when the test process exits.
 */

const cleanups = new Set<() => void>();
let exitHook = false;
function onExit(fn: () => void): () => void {
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const f of cleanups) {
        try {
          f();
        } catch {
          // best effort at exit
        }
      }
    });
  }
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

function postgresBin(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(path.join(root, v, 'bin', 'pg_ctl')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions[0])
    throw new Error('no PostgreSQL binaries (set PG_BIN to the folder with initdb and pg_ctl)');
  return path.join(root, versions[0], 'bin');
}

/** PostgreSQL refuses to run as root: as root, its tools run as the `postgres` user. */
function asPostgres(cmd: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

function run(cmd: string, args: string[], timeoutMs = 60_000): string {
  const [c, a] = asPostgres(cmd, args);
  return execFileSync(c, a, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface PrivatePostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication). */
  url: string;
  port: number;
  /** `pg_ctl stop -m <mode>`: `fast` ends every session, as a restart does. */
  stop(mode?: 'fast' | 'immediate' | 'smart'): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and removes its data. */
  destroy(): Promise<void>;
}

/** initdb + pg_ctl on a free port, data in a temp dir. */
export async function startPrivatePostgres(opts: { maxConnections?: number } = {}): Promise<PrivatePostgres> {
  const bin = postgresBin();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cw-pg-'));
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const data = path.join(dir, 'data');
  run(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    `-c max_connections=${opts.maxConnections ?? 200}`,
  ].join(' ');
  const pgCtl = path.join(bin, 'pg_ctl');
  const start = async () => {
    run(pgCtl, ['-D', data, '-o', options, '-l', path.join(dir, 'log'), '-w', '-t', '60', 'start']);
  };
  const stop = async (mode: 'fast' | 'immediate' | 'smart' = 'fast') => {
    try {
      run(pgCtl, ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']);
    } catch (err) {
      // Already stopped is fine.
      if (!/not running|No such file|does not exist/i.test(String((err as { stderr?: string }).stderr)))
        throw err;
    }
  };
  const forget = onExit(() => {
    try {
      run(pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop'], 10_000);
    } catch {
      // not running
    }
    rmSync(dir, { recursive: true, force: true });
  });
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop,
    start,
    async destroy() {
      await stop('immediate').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      forget();
    },
  };
}

export interface PrivateNats {
  /** `nats://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** Kills the server (SIGKILL by default) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and storage. */
  start(): Promise<void>;
  destroy(): Promise<void>;
}

const natsBin = () =>
  process.env.NATS_SERVER_BIN ??
  (existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server');

/** nats-server with JetStream on a free port, storage in a temp dir. */
export async function startPrivateNats(): Promise<PrivateNats> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cw-nats-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    const c = spawn(natsBin(), ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child = c;
    let err = '';
    c.stderr?.on('data', (d) => {
      err = (err + d).slice(-4_000);
    });
    const deadline = Date.now() + 15_000;
    while (!(await listening(port))) {
      if (c.exitCode !== null) throw new Error(`nats-server exited (${c.exitCode}): ${err}`);
      if (Date.now() > deadline) throw new Error(`nats-server not listening on ${port}: ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    await exited;
  };
  const forget = onExit(() => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    kill,
    start,
    async destroy() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
      forget();
    },
  };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}
