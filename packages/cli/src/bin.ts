#!/usr/bin/env node
// The AWS SDK prints a maintenance notice for Node 20 on every run; it is not ours to show. Set
// before the SDK loads, hence the dynamic imports below.
process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE ??= '1';
const { ExitCode } = await import('./ExitCode.js');
const { runCli } = await import('./program.js');

const controller = new AbortController();
let interrupts = 0;
const stop = (signal: NodeJS.Signals) => {
  interrupts++;
  if (interrupts > 1) {
    process.stderr.write('\nStopped before a clean shutdown.\n');
    process.exit(ExitCode.Interrupted);
  }
  if (signal === 'SIGINT' && process.stderr.isTTY)
    process.stderr.write('\nStopping cleanly (Ctrl-C again to force)…\n');
  controller.abort(new Error(`received ${signal}`));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

const code = await runCli(
  process.argv.slice(2),
  { stdout: process.stdout, stderr: process.stderr, env: process.env },
  controller.signal,
);
process.exitCode = code;
// Servers, sockets or timers a library left open must not keep a finished command alive.
setTimeout(() => process.exit(code), 2000).unref();
