import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PGliteDialect, PostgresDialect, sql } from 'kysely';
import pg from 'pg';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Where a service's tables live: a Postgres server, or an embedded PGlite instance. */
export type DatabaseTarget =
  | { kind: 'postgres'; url: string; poolMax?: number }
  | { kind: 'pglite'; pglite: PGlite };

export interface Database<DB> {
  /** Every table reference is qualified with the service's schema. */
  readonly db: Kysely<DB>;
  readonly schema: string;
  ping(): Promise<void>;
  destroy(): Promise<void>;
}

// NUMERIC and INT8 come back as strings from pg by default; we store counts in int4 and
// money-like values in double precision, so defaults are kept.

/**
 * Opens a Kysely instance bound to one Postgres schema. With PGlite several services share
 * one engine (it has a single session), so the schema is applied per query by the
 * WithSchemaPlugin rather than by `search_path`.
 */
export function openDatabase<DB>(target: DatabaseTarget, schema: string): Database<DB> {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`invalid schema name: ${schema}`);
  let base: Kysely<DB>;
  if (target.kind === 'postgres') {
    const pool = new pg.Pool({
      connectionString: target.url,
      max: target.poolMax ?? 10,
      options: `-c search_path=${schema},public`,
      idleTimeoutMillis: 30_000,
      // Waiting for a connection (the server unreachable, or every client busy) ends with an
      // error the services answer as 503, instead of holding the request until its caller gives up.
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      // A peer that vanished without a FIN (a failover, a dropped NAT entry) is noticed.
      keepAlive: true,
      Client: preparingClient(),
    });
    // An idle client that errors (server restart) is removed by the pool, which reports it here.
    pool.on('error', () => undefined);
    base = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  } else {
    const shared = target.pglite;
    // Kysely closes its PGlite on destroy; the engine is shared, so its owner closes it.
    const handle = new Proxy(shared, {
      get(t, p) {
        if (p === 'close') return async () => undefined;
        const v = Reflect.get(t, p, t);
        return typeof v === 'function' ? v.bind(t) : v;
      },
    });
    base = new Kysely<DB>({ dialect: new PGliteDialect({ pglite: handle }) });
  }
  const db = base.withSchema(schema);
  return {
    db,
    schema,
    async ping() {
      await sql`select 1`.execute(base);
    },
    async destroy() {
      await base.destroy();
    },
  };
}

// Named statements are kept by each connection and by the server: bound how many there are.
const MAX_PREPARED = 500;
const CONNECT_TIMEOUT_MS = 5_000;
const PREPARABLE = /^\s*(select|insert|update|delete|with)\b/i;
// SQLSTATE 0A000: a prepared `select *` whose table changed shape (a migration ran meanwhile).
const CACHED_PLAN_CHANGED = /cached plan must not change result type/;

/**
 * A client class that runs Kysely's queries as named prepared statements, so PostgreSQL parses
 * and plans each distinct statement once per connection instead of on every call. A statement
 * the server can no longer run as prepared (its table changed) goes back to unnamed; inside a
 * transaction that first failure still aborts it, and the caller's retry runs unnamed.
 */
function preparingClient(): typeof pg.Client {
  const names = new Map<string, string | null>();
  const nameOf = (text: string): string | undefined => {
    const known = names.get(text);
    if (known !== undefined) return known ?? undefined;
    if (names.size >= MAX_PREPARED || !PREPARABLE.test(text)) return undefined;
    const name = `cw${names.size}`;
    names.set(text, name);
    return name;
  };
  class PreparingClient extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      super(config);
      // The pool listens for errors only while a client is idle. A session ended while it is
      // checked out (57P01 from pg_terminate_backend or a restart, a reset socket) would
      // otherwise be an unhandled 'error' event, which exits the process. The unit of work
      // using it sees the failure on its next (or current) query, and the pool drops the
      // client when it is released (it is no longer queryable).
      this.on('error', () => undefined);
    }
    // Kysely calls query(text, values); everything else passes through unchanged.
    override query(...args: any[]): any {
      const [text, values] = args;
      const name = typeof text === 'string' && Array.isArray(values) ? nameOf(text) : undefined;
      if (!name || args.length !== 2) return (super.query as (...a: any[]) => any)(...args);
      return (super.query({ name, text, values }) as Promise<pg.QueryResult>).catch((err: unknown) => {
        if (!CACHED_PLAN_CHANGED.test(String((err as Error)?.message))) throw err;
        names.set(text, null);
        return super.query(text, values);
      });
    }
  }
  return PreparingClient as typeof pg.Client;
}

/** Opens (creating if needed) an embedded PGlite database in a folder, or in memory. */
export async function openPGlite(dataDir?: string): Promise<PGlite> {
  if (dataDir) await preparePGliteDir(dataDir);
  const pglite = dataDir ? new PGlite(dataDir) : new PGlite();
  await pglite.waitReady;
  return pglite;
}

const preparing = new Map<string, Promise<void>>();

/**
 * Creates the PGlite cluster in `dataDir` if it does not exist yet. Safe to start early (the
 * embedded app does it while it loads its modules) and to call again: callers share one run.
 */
export function preparePGliteDir(dataDir: string): Promise<void> {
  const dir = path.resolve(dataDir);
  let p = preparing.get(dir);
  if (!p) {
    p = existsSync(path.join(dir, 'PG_VERSION')) ? Promise.resolve() : initPGliteDir(dir);
    preparing.set(dir, p);
  }
  return p;
}

/**
 * Creating a PGlite cluster (initdb) grows its WebAssembly memory to ~700 MB, which a process
 * never gives back; doing it in a short-lived child keeps the long-running process at ~1/3 of that.
 */
async function initPGliteDir(dataDir: string): Promise<void> {
  const mod = import.meta.resolve('@electric-sql/pglite');
  mkdirSync(dataDir, { recursive: true });
  const script = `const { PGlite } = await import(${JSON.stringify(mod)}); const db = new PGlite(${JSON.stringify(dataDir)}); await db.waitReady; await db.close();`;
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`PGlite initdb failed (${code}): ${err.slice(-2000)}`)),
    );
  });
}
