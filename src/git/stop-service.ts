import type { ChildProcess } from 'node:child_process';

/**
 * Stopping an upload-pack / receive-pack early (its client went away). SIGKILL would leave
 * receive-pack's temporary files in the repo: its quarantine objects/tmp_objdir-incoming-* with
 * the partial push in it (git removes it on a normal exit only, on no signal) and, mid-update, ref
 * lock files that block later pushes. So receive-pack gets EOF on its input and exits by itself
 * ("early EOF"; a push whose pack had fully arrived still completes); upload-pack, which writes
 * nothing, gets SIGTERM. A child still there after a grace period is killed.
 */
export function serviceStopper(child: ChildProcess, service: 'upload-pack' | 'receive-pack'): () => void {
  const alive = () => child.exitCode === null && child.signalCode === null;
  const later = (ms: number, signal: NodeJS.Signals) =>
    setTimeout(() => {
      if (alive()) child.kill(signal);
    }, ms).unref();
  return () => {
    if (!alive()) return;
    if (service === 'receive-pack') {
      child.stdin?.destroy();
      later(60_000, 'SIGTERM');
      later(65_000, 'SIGKILL');
    } else {
      child.kill('SIGTERM');
      later(5_000, 'SIGKILL');
    }
    child.stdout?.resume(); // never leave it blocked on a full pipe nobody reads
  };
}
