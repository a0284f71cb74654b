import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { CatalogueError } from '@chartwright/market';
import type { RenderedChart } from './render.js';
import { RenderError, type RenderInput } from './svg.js';
import type { WorkerRequest, WorkerResponse } from './worker.js';

export interface RenderPoolOptions {
  /** Worker threads; default: available cores. */
  size?: number;
  /** Renders waiting for a worker before new ones are refused; default 1000. */
  maxQueue?: number;
  /** Start workers on first use instead of at once (the embedded app: less memory at idle). */
  lazy?: boolean;
}

interface Task {
  id: number;
  input: RenderInput;
  resolve(r: RenderedChart): void;
  reject(e: Error): void;
}

interface Slot {
  worker: Worker;
  task?: Task;
}

export class PoolBusyError extends Error {
  override readonly name = 'PoolBusyError';
  readonly code = 'SERVICE_UNAVAILABLE' as const;
}

/**
 * Production runs compiled JS (`worker.js`). In development the sources are TypeScript run by tsx,
 * and Node 20 does not apply a parent's `--import tsx` to worker threads, so the worker bootstraps
 * tsx itself before importing `worker.ts`. The parent's flags (`--conditions=development`) pass on.
 */
function createWorker(): Worker {
  const ts = import.meta.url.endsWith('.ts');
  const execArgv = process.execArgv.filter(
    (a) => a !== '--import' && a !== 'tsx' && !a.startsWith('--import='),
  );
  if (!ts) return new Worker(new URL('./worker.js', import.meta.url), { execArgv });
  if (!execArgv.some((a) => a.includes('development'))) execArgv.push('--conditions=development');
  const entry = JSON.stringify(new URL('./worker.ts', import.meta.url).href);
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${entry}); });`;
  return new Worker(boot, { eval: true, execArgv });
}

/** Renders charts on a small pool of worker threads, so throughput grows with cores. */
export class RenderPool {
  readonly size: number;
  readonly #maxQueue: number;
  readonly #slots: Slot[] = [];
  readonly #queue: Task[] = [];
  #nextId = 1;
  #closed = false;
  readonly #lazy: boolean;

  constructor(opts: RenderPoolOptions = {}) {
    this.size = Math.max(1, opts.size ?? availableParallelism());
    this.#maxQueue = opts.maxQueue ?? 1000;
    this.#lazy = opts.lazy ?? false;
    if (!this.#lazy) for (let i = 0; i < this.size; i++) this.#slots.push(this.#spawn());
  }

  #spawn(): Slot {
    const slot: Slot = { worker: createWorker() };
    slot.worker.on('message', (msg: WorkerResponse) => {
      const task = slot.task;
      slot.task = undefined;
      if (task && task.id === msg.id) {
        if (msg.ok) {
          const data = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
          task.resolve({
            data,
            contentType: msg.contentType as RenderedChart['contentType'],
            width: msg.width,
            height: msg.height,
            warnings: msg.warnings,
          });
        } else task.reject(rebuildError(msg.error));
      }
      this.#pump();
    });
    const fail = (err: Error) => {
      slot.task?.reject(err);
      slot.task = undefined;
      if (this.#closed) return;
      // Replace a crashed worker so the pool keeps its size.
      const i = this.#slots.indexOf(slot);
      if (i >= 0) this.#slots[i] = this.#spawn();
      this.#pump();
    };
    slot.worker.on('error', fail);
    slot.worker.on('exit', (code) => {
      if (!this.#closed) fail(new Error(`render worker exited with code ${code}`));
    });
    return slot;
  }

  /** Renders on the first free worker; same result and errors as `renderChart`. */
  render(input: RenderInput): Promise<RenderedChart> {
    if (this.#closed) return Promise.reject(new Error('RenderPool is closed'));
    if (this.#queue.length >= this.#maxQueue) {
      return Promise.reject(new PoolBusyError('Too many charts waiting to be rendered'));
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, input, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    // A lazy pool starts its workers when there is work for them.
    while (
      this.#lazy &&
      this.#queue.length > this.#slots.filter((s) => !s.task).length &&
      this.#slots.length < this.size
    ) {
      this.#slots.push(this.#spawn());
    }
    for (const slot of this.#slots) {
      if (slot.task) continue;
      const task = this.#queue.shift();
      if (!task) return;
      slot.task = task;
      const req: WorkerRequest = { id: task.id, input: task.input };
      slot.worker.postMessage(req);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#queue.splice(0)) t.reject(new Error('RenderPool closed'));
    await Promise.all(
      this.#slots.map(async (s) => {
        s.task?.reject(new Error('RenderPool closed'));
        await s.worker.terminate();
      }),
    );
  }
}

function rebuildError(e: { name: string; message: string; code?: string; details?: unknown }): Error {
  if (e.name === 'CatalogueError')
    return new CatalogueError(e.message, e.details as CatalogueError['details']);
  if (e.name === 'RenderError') return new RenderError(e.message);
  return Object.assign(new Error(e.message), { code: e.code });
}
