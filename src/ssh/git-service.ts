import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import type { ServerChannel } from 'ssh2';
import { faultCodeInText, storageFault } from '../domain/faults.js';
import { serviceStopper } from '../git/stop-service.js';
import type { GitService } from './commands.js';
import type { SshContext } from './context.js';

// One git upload-pack / receive-pack for one SSH exec channel: git's own full-duplex protocol
// (not --stateless-rpc), so the channel and the process are joined end to end with backpressure
// both ways; git's exit status is the command's.

export interface GitRun {
  service: GitService;
  dir: string;
  env: NodeJS.ProcessEnv;
  repoId: string;
  /** Frees the caller's git process slot (once the child has exited). */
  release: () => void;
  /** Run once a push has succeeded. */
  afterPush: () => void;
  /** Called whenever data moves either way (the idle timeout counts from the last call). */
  touch: () => void;
}

/** Resolves with the exit status sent to the client. */
export function runGitService(ctx: SshContext, channel: ServerChannel, run: GitRun): Promise<number> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    let child: ChildProcessWithoutNullStreams;
    try {
      child = spawn('git', [run.service, run.dir], { env: run.env, stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (err) {
      return resolve(cannotStart(err));
    }
    function cannotStart(err: unknown): number {
      run.release();
      ctx.log.error({ err, repo: run.repoId }, 'could not start git');
      return finish(channel, 'the server could not start git right now: try again shortly', 1);
    }
    child.on('error', (err) => resolve(cannotStart(err)));
    let bytesOut = 0;
    let bytesIn = 0;
    let clientGone = false;
    const stderr: Buffer[] = [];
    const stop = serviceStopper(child, run.service);

    child.stdout.on('data', (chunk: Buffer) => {
      bytesOut += chunk.length;
      run.touch();
    });
    child.stdout.pipe(channel, { end: false });
    // git's progress and errors ("remote: ..." on the client) go to the channel's stderr as they come.
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 64) stderr.push(chunk);
      run.touch();
      if (channel.writable) channel.stderr.write(chunk);
    });
    channel.on('data', (chunk: Buffer) => {
      bytesIn += chunk.length;
      run.touch();
    });
    channel.pipe(child.stdin);
    child.stdin.on('error', () => {}); // git may exit before reading everything (a refused push): not our error

    // A client that leaves (or a connection cut by the idle timeout) stops the child as HTTP does:
    // receive-pack reads EOF and leaves no quarantine and no ref change behind.
    channel.once('close', () => {
      if (child.exitCode === null && child.signalCode === null) {
        clientGone = true;
        stop();
      }
    });

    child.on('close', (code, signal) => {
      run.release();
      const outcome = clientGone ? 'aborted' : code === 0 ? 'ok' : 'failed';
      ctx.metrics.gitDuration.labels(run.service, outcome).observe(Number(process.hrtime.bigint() - started) / 1e9);
      ctx.metrics.gitBytesServed.labels(run.service).inc(bytesOut);
      if (clientGone) return resolve(1);
      // A push that sent no more than a flush packet changed nothing.
      if (code === 0 && run.service === 'receive-pack' && bytesIn > 4) {
        ctx.maintenance.schedule(run.dir);
        run.afterPush();
      }
      if (code !== 0) {
        const message = Buffer.concat(stderr).toString('utf8').split(run.dir).join(run.repoId).trim();
        ctx.log.warn({ repo: run.repoId, service: run.service, code, signal, stderr: message.slice(0, 2000) }, 'git service failed');
        const fault = storageFault({ code: faultCodeInText(message) });
        if (fault && channel.writable) channel.stderr.write(`${fault.message}\n`);
      }
      resolve(exitWhenFlushed(channel, code ?? 128));
    });
  });
}

/**
 * The exit status once everything written has left: exit-status must not overtake data still
 * waiting for the client's window (the client would stop reading). An empty write's callback
 * runs after every earlier write has gone out ('drain' alone is not emitted for a buffer that
 * never filled).
 */
function exitWhenFlushed(channel: ServerChannel, status: number): number {
  if (channel.writable) channel.write(Buffer.alloc(0), () => endChannel(channel, status));
  return status;
}

/** Ends a command with a message on stderr and an exit status. */
export function finish(channel: ServerChannel, message: string, status: number): number {
  if (message && channel.writable) channel.stderr.write(`${message}\n`);
  endChannel(channel, status);
  return status;
}

/** Sends the exit status and closes the channel, unless the client closed it already. */
function endChannel(channel: ServerChannel, status: number): void {
  if (!channel.writable) return;
  try {
    channel.exit(status);
    channel.end();
  } catch {
    /* the connection went away meanwhile */
  }
}
