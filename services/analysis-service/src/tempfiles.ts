import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';

/** Distinguishes this process from an earlier one that had the same pid (containers reuse pid 1). */
const INCARNATION = randomBytes(4).toString('hex');
const NAME = /^\.?analysis-(\d+)-([0-9a-f]{8})-/;

/** A new, unique path for one job's image: `analysis-<pid>-<incarnation>-<analysisId>-<random>.<ext>`. */
export function tempImagePath(dir: string, analysisId: string, ext: string): string {
  return path.join(
    dir,
    `analysis-${process.pid}-${INCARNATION}-${analysisId}-${randomBytes(4).toString('hex')}.${ext}`,
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Deletes images left by processes that died mid-job: files of an earlier incarnation of this pid,
 * of pids no longer running, and anything not ours older than `staleMs`. Live replicas sharing
 * the folder keep theirs. Returns the names removed.
 */
export async function sweepTempDir(dir: string, staleMs = 6 * 3_600_000): Promise<string[]> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const removed: string[] = [];
  for (const name of await readdir(dir)) {
    const m = NAME.exec(name);
    let leftover: boolean;
    if (m) {
      const pid = Number(m[1]);
      leftover = pid === process.pid ? m[2] !== INCARNATION : !alive(pid);
    } else {
      const s = await stat(path.join(dir, name)).catch(() => undefined);
      leftover = s?.isFile() === true && Date.now() - s.mtimeMs > staleMs;
    }
    if (leftover) {
      await rm(path.join(dir, name), { force: true });
      removed.push(name);
    }
  }
  return removed;
}
