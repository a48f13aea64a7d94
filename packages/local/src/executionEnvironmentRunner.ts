/**
 * The entry point of one emulated Lambda execution environment (a child process forked by
 * {@link ExecutionEnvironment}). It imports the handler module once (the init phase), then serves
 * one invocation at a time over IPC, so module-level state survives warm invocations as on Lambda.
 *
 * argv: `<module path> <export name> <function name>`.
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type { EnvironmentReply, EnvironmentRequest } from './executionEnvironmentProtocol.js';

type Handler = (event: unknown, context: unknown, callback?: unknown) => unknown;

const [modulePath = '', exportName = 'handler', functionName = 'function'] = process.argv.slice(2);

function send(message: EnvironmentReply): void {
  process.send?.(message);
}

function describeError(error: unknown): { name: string; message: string; stack?: string } {
  if (error instanceof Error)
    return {
      name: error.name,
      message: error.message,
      ...(error.stack ? { stack: error.stack } : {}),
    };
  return { name: 'Error', message: String(error) };
}

let handler: Handler;
try {
  const module = (await import(pathToFileURL(modulePath).href)) as Record<string, unknown>;
  const exported =
    module[exportName] ?? (module.default as Record<string, unknown> | undefined)?.[exportName];
  if (typeof exported !== 'function') {
    const names = Object.keys(module).join(', ') || 'none';
    throw new Error(
      `Module ${modulePath} has no function export "${exportName}" (its exports: ${names}); name the handler's export.`,
    );
  }
  handler = exported as Handler;
  send({ type: 'ready' });
} catch (error) {
  send({ type: 'init-error', error: describeError(error) });
  process.exit(1);
}

const region = process.env.AWS_REGION ?? 'us-east-1';

process.on('message', (message: EnvironmentRequest) => {
  if (message.type !== 'invoke') return;
  const deadline = Date.now() + message.timeoutMs;
  const awsRequestId = randomUUID();
  const context = {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:123456789012:function:${functionName}`,
    memoryLimitInMB: '128',
    awsRequestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/[$LATEST]${process.pid}`,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
  const run = async (): Promise<unknown> => {
    if (handler.length >= 3) {
      return await new Promise((resolve, reject) => {
        const result = handler(message.event, context, (error: unknown, value: unknown) =>
          error ? reject(error) : resolve(value),
        );
        if (result && typeof (result as Promise<unknown>).then === 'function')
          (result as Promise<unknown>).then(resolve, reject);
      });
    }
    return await handler(message.event, context);
  };
  void run().then(
    async (response) => {
      // A stalled answer (a fault of the mapping): the work happened, the answer never arrives.
      if (message.stallAfterHandler) await new Promise(() => undefined);
      send({ type: 'result', id: message.id, ok: true, response: response ?? null });
    },
    (error: unknown) =>
      send({ type: 'result', id: message.id, ok: false, error: describeError(error) }),
  );
});
