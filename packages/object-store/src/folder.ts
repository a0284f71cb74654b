import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { assertKey, type ObjectBody, type ObjectStore, type StoredObject } from './types.js';

/** Objects as files under a folder (embedded mode). The content type sits in a sidecar file. */
export class FolderObjectStore implements ObjectStore {
  readonly kind = 'folder' as const;
  constructor(private readonly root: string) {}

  private file(key: string): string {
    assertKey(key);
    return path.join(this.root, key);
  }

  async put(key: string, body: Buffer, contentType: string): Promise<StoredObject> {
    const file = this.file(key);
    await mkdir(path.dirname(file), { recursive: true });
    // Write then rename: a reader never sees half a file.
    const tmp = `${file}.${randomUUID()}.tmp`;
    await writeFile(tmp, body);
    await writeFile(`${file}.meta`, JSON.stringify({ contentType }));
    await rename(tmp, file);
    return { key, size: body.length, contentType };
  }

  async get(key: string): Promise<ObjectBody | null> {
    const file = this.file(key);
    try {
      const s = await stat(file);
      let contentType = 'application/octet-stream';
      try {
        const { readFile } = await import('node:fs/promises');
        contentType = JSON.parse(await readFile(`${file}.meta`, 'utf8')).contentType ?? contentType;
      } catch {
        // no sidecar: keep the default
      }
      return { key, size: s.size, contentType, body: createReadStream(file) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    const file = this.file(key);
    await rm(file, { force: true });
    await rm(`${file}.meta`, { force: true });
  }

  async ping(): Promise<void> {
    await mkdir(this.root, { recursive: true });
  }
}
