#!/usr/bin/env node
// The AWS SDK warns on Node 20 (NodeVersionSupportWarning) whenever a client is built; it is not
// ours to show. The installed SDK reads exactly this variable (the value must be "true"); set it
// before the SDK loads, hence the dynamic imports below. A user's own value wins.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
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
