import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const FONT_FAMILY = 'DejaVu Sans';
const FILES = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'];

export interface FontSetup {
  files: string[];
  /** Where they came from, for logs and the health check. */
  origin: 'env' | 'system' | 'npm' | 'none';
}

let cached: FontSetup | undefined;

/**
 * resvg draws no text without font files, and loading every system font costs tens of ms per image.
 * So we hand it exactly DejaVu Sans (regular and bold), looked up in this order:
 * 1. `CHART_FONT_DIR`, for deployments that ship their own copy;
 * 2. the distribution's package (`fonts-dejavu-core`), /usr/share/fonts/truetype/dejavu;
 * 3. the `dejavu-fonts-ttf` npm package, a dependency of this service, so that a fresh machine or a
 *    slim container without system fonts still renders legible text.
 * With none of them (a broken install), `origin` is `none` and resvg falls back to system fonts.
 */
export function fontSetup(): FontSetup {
  if (cached) return cached;
  const candidates: [FontSetup['origin'], string | undefined][] = [
    ['env', process.env.CHART_FONT_DIR],
    ['system', '/usr/share/fonts/truetype/dejavu'],
    ['npm', npmFontDir()],
  ];
  for (const [origin, dir] of candidates) {
    if (!dir) continue;
    const files = FILES.map((f) => join(dir, f));
    if (existsSync(files[0]!)) {
      cached = { files: files.filter((f) => existsSync(f)), origin };
      return cached;
    }
  }
  cached = { files: [], origin: 'none' };
  return cached;
}

/** The `dejavu-fonts-ttf` package's font folder, when installed. */
export function npmFontDir(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve('dejavu-fonts-ttf/package.json');
    return join(dirname(pkg), 'ttf');
  } catch {
    return undefined;
  }
}

/** For tests: forget the cached choice. */
export function resetFontSetup(): void {
  cached = undefined;
}
