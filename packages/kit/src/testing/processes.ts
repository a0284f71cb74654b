import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

export interface ServiceProcess {
  name: string;
  url: string;
  child: ChildProcess;
  output(): string;
  /** Sends `signal` and waits for the exit; returns the exit code (null when killed by signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

/**
 * Starts a service's `src/main.ts` as its own Node.js process (TypeScript through tsx) and waits
 * until its `/health` answers 200.
 */
export async function startServiceProcess(
  service: string,
  env: Record<string, string>,
  opts: { port: number; timeoutMs?: number; entry?: string; nodeArgs?: string[]; omitEnv?: string[] } = {
    port: 0,
  },
): Promise<ServiceProcess> {
  const entry = opts.entry ?? path.join(REPO_ROOT, 'services', service, 'src', 'main.ts');
  const inherited = { ...process.env };
  for (const k of opts.omitEnv ?? []) delete inherited[k];
  const child = spawn(
    process.execPath,
    [...(opts.nodeArgs ?? []), '--conditions=development', '--import', 'tsx', entry],
    {
      cwd: REPO_ROOT,
      env: {
        ...inherited,
        NODE_ENV: 'test',
        LOG_LEVEL: 'warn',
        ...env,
        PORT: String(opts.port),
        HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${opts.port}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let exitCode: number | null | undefined;
  void exited.then((c) => {
    exitCode = c;
  });
  for (;;) {
    if (exitCode !== undefined)
      throw new Error(`${service} exited (${exitCode}) before it was healthy:\n${out}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${service} not healthy in time:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    name: service,
    url,
    child,
    output: () => out,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

// Below the OS ephemeral range (32768+), so outgoing connections and port-0 listeners do not collide.
let nextPort = 20_000 + Math.floor(Math.random() * 10_000);
/** A port unlikely to be taken: tests on a shared machine pick from a random range. */
export const freePort = async (): Promise<number> => {
  const net = await import('node:net');
  for (;;) {
    const port = nextPort++;
    const ok = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (ok) return port;
  }
};

/**
 * The embedded app (`apps/embedded`: every service in one process) on PGlite, the in-process bus
 * and a temp folder, as `pnpm start` runs it: no server needed (scripts and benchmarks). The
 * caller's DATABASE_URL, NATS_URL, REDIS_URL and S3 settings are not passed on; `stop` also
 * removes the folder.
 */
export async function startSelfContainedApp(
  env: Record<string, string> = {},
): Promise<ServiceProcess & { dataDir: string }> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'cw-app-'));
  const remove = () => rm(dataDir, { recursive: true, force: true });
  try {
    const app = await startServiceProcess(
      'embedded',
      { DATA_DIR: dataDir, LOG_LEVEL: 'error', ...env },
      {
        port: await freePort(),
        entry: path.join(REPO_ROOT, 'apps/embedded/src/main.ts'),
        timeoutMs: 90_000,
        omitEnv: ['DATABASE_URL', 'NATS_URL', 'REDIS_URL', 'S3_ENDPOINT', 'S3_BUCKET'],
      },
    );
    return {
      ...app,
      dataDir,
      async stop(signal) {
        const code = await app.stop(signal);
        await remove();
        return code;
      },
    };
  } catch (err) {
    await remove();
    throw err;
  }
}
