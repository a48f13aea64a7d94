import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type {
  EnvironmentError,
  EnvironmentReply,
  EnvironmentRequest,
} from './executionEnvironmentProtocol.js';

/** How an invocation in an execution environment ended. */
export type EnvironmentOutcome =
  | { readonly kind: 'response'; readonly response: unknown }
  | { readonly kind: 'error'; readonly error: EnvironmentError }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'killed' };

/** Where an environment's stdout and stderr go. */
export type FunctionLogs = 'inherit' | 'ignore' | ((text: string) => void);

/** Options of {@link ExecutionEnvironmentPool}. */
export interface ExecutionEnvironmentPoolOptions {
  readonly modulePath: string;
  readonly exportName: string;
  readonly functionName: string;
  /** Environment variables of the function (on top of this process's). */
  readonly environment: Readonly<Record<string, string>>;
  readonly execArgv: readonly string[];
  readonly logs: FunctionLogs;
  /** Most environments at once (Lambda's concurrency limit). */
  readonly maxConcurrency: number;
}

// The runner is TypeScript in the workspace (run through tsx) and JavaScript once built.
const RUNNER_URL = new URL(
  `./executionEnvironmentRunner${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`,
  import.meta.url,
);

/**
 * One emulated execution environment: a child process that imported the handler module once and
 * serves one invocation at a time. Killing it (a timeout, a fault) loses its module state, as a
 * Lambda environment that is torn down does.
 */
export class ExecutionEnvironment {
  readonly #child: ChildProcess;
  readonly #ready: Promise<void>;
  #pending: ((reply: EnvironmentReply | undefined) => void) | undefined;
  #nextId = 1;
  #exited = false;
  #killed = false;
  /** Invocations served so far. */
  invocations = 0;

  constructor(options: ExecutionEnvironmentPoolOptions) {
    const runner = fileURLToPath(RUNNER_URL);
    const needsTsx =
      (runner.endsWith('.ts') || /\.[cm]?ts$/.test(options.modulePath)) &&
      !options.execArgv.some((arg, i, all) => arg === 'tsx' && all[i - 1] === '--import');
    const pipe = options.logs !== 'inherit';
    this.#child = fork(runner, [options.modulePath, options.exportName, options.functionName], {
      execArgv: [...options.execArgv, ...(needsTsx ? ['--import', 'tsx'] : [])],
      env: {
        ...process.env,
        AWS_LAMBDA_FUNCTION_NAME: options.functionName,
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128',
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs20.x',
        ...options.environment,
      },
      stdio: pipe ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    if (pipe) {
      const write =
        typeof options.logs === 'function' ? options.logs : (_text: string) => undefined;
      this.#child.stdout?.on('data', (chunk: Buffer) => write(chunk.toString()));
      this.#child.stderr?.on('data', (chunk: Buffer) => write(chunk.toString()));
    }
    this.#ready = new Promise<void>((resolve, reject) => {
      const onMessage = (message: EnvironmentReply) => {
        if (message.type === 'ready') resolve();
        else if (message.type === 'init-error')
          reject(
            new Error(`The handler module failed to load (init phase): ${message.error.message}`),
          );
        else this.#pending?.(message);
      };
      this.#child.on('message', onMessage);
      this.#child.once('exit', (code, signal) => {
        this.#exited = true;
        reject(
          new Error(
            `The execution environment exited during init (code ${String(code)}, signal ${String(signal)}).`,
          ),
        );
        this.#pending?.(undefined);
      });
    });
    this.#ready.catch(() => undefined);
  }

  /** Resolves once the module loaded; rejects with the init error. */
  get ready(): Promise<void> {
    return this.#ready;
  }

  /** Whether the process is gone, or killed and on its way out. */
  get exited(): boolean {
    return this.#exited || this.#killed;
  }

  /**
   * Invokes the handler with `event`. A run past `timeoutMs` kills the environment (a Lambda
   * timeout); `killAfterMs` kills it at that time or when it answers, whichever comes first (an
   * environment that dies mid-batch, or after its work and before its answer reached Lambda).
   */
  async invoke(
    event: unknown,
    timeoutMs: number,
    faults: { readonly killAfterMs?: number; readonly stallAfterHandler?: boolean } = {},
  ): Promise<EnvironmentOutcome> {
    if (this.#pending) throw new Error('An execution environment serves one invocation at a time.');
    this.invocations += 1;
    const id = this.#nextId++;
    return await new Promise<EnvironmentOutcome>((resolve) => {
      let settled = false;
      const timers: NodeJS.Timeout[] = [];
      const finish = (outcome: EnvironmentOutcome) => {
        if (settled) return;
        settled = true;
        for (const timer of timers) clearTimeout(timer);
        this.#pending = undefined;
        resolve(outcome);
      };
      this.#pending = (reply) => {
        if (faults.killAfterMs !== undefined) {
          this.kill();
          finish({ kind: 'killed' });
        } else if (!reply) finish({ kind: 'error', error: runtimeExited() });
        else if (reply.type === 'result' && reply.id === id)
          finish(
            reply.ok
              ? { kind: 'response', response: reply.response }
              : { kind: 'error', error: reply.error },
          );
      };
      timers.push(
        setTimeout(() => {
          this.kill();
          finish({ kind: 'timeout' });
        }, timeoutMs),
      );
      if (faults.killAfterMs !== undefined) {
        timers.push(
          setTimeout(() => {
            this.kill();
            finish({ kind: 'killed' });
          }, faults.killAfterMs),
        );
      }
      const request: EnvironmentRequest = {
        type: 'invoke',
        id,
        event,
        timeoutMs,
        stallAfterHandler: faults.stallAfterHandler ?? false,
      };
      if (this.exited || !this.#child.connected) {
        finish({ kind: 'error', error: runtimeExited() });
        return;
      }
      this.#child.send(request, (error) => {
        if (error) finish({ kind: 'error', error: runtimeExited() });
      });
    });
  }

  /** kill -9 (the environment and its module state are gone). */
  kill(): void {
    this.#killed = true;
    if (!this.#exited) this.#child.kill('SIGKILL');
  }

  /** Resolves once the process exited. */
  async whenExited(): Promise<void> {
    if (this.#exited || this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    await new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
  }
}

function runtimeExited(): EnvironmentError {
  return {
    name: 'Runtime.ExitError',
    message: 'The execution environment exited before the invocation finished.',
  };
}

/**
 * Execution environments of one function: an invocation takes an idle (warm) one or starts a new
 * one (a cold start), never more than `maxConcurrency` at once; a finished invocation gives its
 * environment back for reuse.
 */
export class ExecutionEnvironmentPool {
  readonly #options: ExecutionEnvironmentPoolOptions;
  readonly #idle: ExecutionEnvironment[] = [];
  readonly #all = new Set<ExecutionEnvironment>();
  readonly #waiting: (() => void)[] = [];
  #busy = 0;
  #closed = false;
  /** Environments started (cold starts). */
  coldStarts = 0;
  /** Invocations served by an environment that served one before. */
  warmStarts = 0;

  constructor(options: ExecutionEnvironmentPoolOptions) {
    this.#options = options;
  }

  /** Invocations running now (environments taken). */
  get busy(): number {
    return this.#busy;
  }

  /** Starts one environment and keeps it idle; rejects with its init error. */
  async prewarm(): Promise<void> {
    const environment = this.#start();
    await environment.ready;
    this.#idle.push(environment);
  }

  /** Takes an environment: a warm idle one, or a new one (waits while the pool is at its limit). */
  async acquire(): Promise<ExecutionEnvironment> {
    while (this.#busy >= this.#options.maxConcurrency) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    if (this.#closed) throw new Error('The event source mapping is stopping.');
    this.#busy += 1;
    for (;;) {
      const warm = this.#idle.pop();
      if (!warm) break;
      if (warm.exited) {
        this.#all.delete(warm);
        continue;
      }
      this.warmStarts += 1;
      return warm;
    }
    const environment = this.#start();
    try {
      await environment.ready;
    } catch (error) {
      this.release(environment);
      throw error;
    }
    return environment;
  }

  /** Gives an environment back: idle for reuse, or dropped when it is gone. */
  release(environment: ExecutionEnvironment): void {
    this.#busy -= 1;
    if (environment.exited || this.#closed) {
      environment.kill();
      this.#all.delete(environment);
    } else this.#idle.push(environment);
    this.#waiting.shift()?.();
  }

  /** Kills every environment. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const resolve of this.#waiting.splice(0)) resolve();
    const all = [...this.#all];
    for (const environment of all) environment.kill();
    await Promise.all(all.map((e) => e.whenExited()));
  }

  #start(): ExecutionEnvironment {
    const environment = new ExecutionEnvironment(this.#options);
    this.#all.add(environment);
    this.coldStarts += 1;
    return environment;
  }
}
