import { parentPort } from 'node:worker_threads';
import { renderChartSync } from './render.js';
import type { RenderInput } from './svg.js';

export interface WorkerRequest {
  id: number;
  input: RenderInput;
}

export type WorkerResponse =
  | {
      id: number;
      ok: true;
      data: Uint8Array;
      contentType: string;
      width: number;
      height: number;
      warnings: string[];
    }
  | { id: number; ok: false; error: { name: string; message: string; code?: string; details?: unknown } };

parentPort?.on('message', ({ id, input }: WorkerRequest) => {
  try {
    const r = renderChartSync(input);
    // Hand the bytes over without copying when they own their whole buffer.
    const owned =
      r.data.byteOffset === 0 && r.data.byteLength === r.data.buffer.byteLength
        ? new Uint8Array(r.data.buffer)
        : new Uint8Array(r.data);
    const msg: WorkerResponse = {
      id,
      ok: true,
      data: owned,
      contentType: r.contentType,
      width: r.width,
      height: r.height,
      warnings: r.warnings,
    };
    parentPort!.postMessage(msg, [owned.buffer as ArrayBuffer]);
  } catch (err) {
    const e = err as Error & { code?: string; details?: unknown };
    const msg: WorkerResponse = {
      id,
      ok: false,
      error: { name: e.name, message: e.message, code: e.code, details: e.details },
    };
    parentPort!.postMessage(msg);
  }
});
