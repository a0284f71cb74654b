/**
 * Crash points for fault-injection tests: with `CW_FAILPOINT=<name>` the process is killed
 * (SIGKILL, no cleanup) when it reaches `failpoint(name)`. Unset in production: a no-op.
 */
export function failpoint(name: string): void {
  if (process.env.CW_FAILPOINT === name) process.kill(process.pid, 'SIGKILL');
}
