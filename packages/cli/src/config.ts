import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** What `login`/`signup` keep: the API's URL and a token or an API key. */
export interface Credentials {
  url?: string;
  token?: string;
  apiKey?: string;
}

/** `$XDG_CONFIG_HOME/chartwright/credentials.json`, or under `~/.config`. */
export function credentialsPath(): string {
  const base = process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(base, 'chartwright', 'credentials.json');
}

export async function loadCredentials(): Promise<Credentials> {
  let stored: Credentials = {};
  try {
    stored = JSON.parse(await readFile(credentialsPath(), 'utf8')) as Credentials;
  } catch {
    // none yet
  }
  // The environment wins over the file.
  const apiKey = process.env.CHARTWRIGHT_API_KEY;
  return {
    url: process.env.CHARTWRIGHT_URL || stored.url,
    apiKey: apiKey || stored.apiKey,
    token: apiKey ? undefined : stored.token,
  };
}

export async function saveCredentials(c: Credentials): Promise<string> {
  const file = credentialsPath();
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  // Only the user may read a secret.
  await writeFile(file, `${JSON.stringify(c, null, 2)}\n`, { mode: 0o600 });
  return file;
}

export async function forgetCredentials(): Promise<void> {
  await rm(credentialsPath(), { force: true });
}
