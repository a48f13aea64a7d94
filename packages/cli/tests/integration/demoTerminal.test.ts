import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sleep } from '@shardline/core';
import { afterEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/ExitCode.js';
import { envWithoutAws, spawnCli } from '../helpers/cli.js';

// The demo as a person uses it: in a real terminal (tmux: Ctrl-C sends SIGINT to the whole
// foreground process group, DynamoDB Local's JVM included unless it has a group of its own), and
// with the commands it prints pasted into another terminal.
const REPO = resolve(import.meta.dirname, '../../../..');
const BIN = resolve(REPO, 'packages/cli/src/bin.ts');
const cleanups: (() => void)[] = [];

afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function until(what: string, condition: () => boolean, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe('shardline demo in a terminal', () => {
  it('Ctrl-C ends the demo with its check, DynamoDB Local still up for it', async () => {
    // arrange: a private tmux server (-L), so the session gets this environment
    expect(spawnSync('tmux', ['-V']).status, 'tmux must be installed (.ci/run installs it)').toBe(
      0,
    );
    const dir = mkdtempSync(join(tmpdir(), 'shardline-demo-tty-'));
    const log = join(dir, 'demo.log');
    const socket = `shardline-test-${process.pid}`;
    const tmux = (...args: string[]) =>
      execFileSync('tmux', ['-L', socket, ...args], { env: envWithoutAws(), encoding: 'utf8' });
    cleanups.push(() => {
      spawnSync('tmux', ['-L', socket, 'kill-server']);
      rmSync(dir, { recursive: true, force: true });
    });
    const command = `node --conditions=source --import tsx ${BIN} demo --rate 20 > ${log} 2>&1; echo "EXIT=$?" >> ${log}`;
    const read = () => {
      try {
        return readFileSync(log, 'utf8');
      } catch {
        return '';
      }
    };
    // act
    tmux(
      'new-session',
      '-d',
      '-s',
      'demo',
      '-x',
      '200',
      '-y',
      '50',
      '-c',
      REPO,
      'bash',
      '-c',
      command,
    );
    await until('the demo to run', () => read().includes('Demo running'));
    await sleep(2000); // a few votes
    tmux('send-keys', '-t', 'demo', 'C-c');
    await until('the demo to exit', () => read().includes('EXIT='), 60_000);
    // assert
    const out = read();
    expect(out).toContain('✔ The summary equals a full scan of the votes.');
    expect(out).toContain('EXIT=0');
  }, 150_000);

  it('prints where it runs and commands that run as printed in another terminal', async () => {
    // arrange
    let stderr = '';
    let demo: import('node:child_process').ChildProcess | undefined;
    const running = spawnCli(['demo', '--rate', '20'], envWithoutAws(), {
      timeoutMs: 120_000,
      onStderr: (text, child) => {
        stderr += text;
        demo = child;
      },
    });
    cleanups.push(() => demo?.kill('SIGKILL'));
    await until('the demo to print how to reach it', () => stderr.includes('Demo running'));
    // act: take the printed lines as a person would paste them
    const lines = stderr.split('\n').map((l) => l.trim());
    const exportLine = lines.find((l) => l.startsWith('export AWS_ENDPOINT_URL='))!;
    const env = { ...envWithoutAws() };
    for (const pair of exportLine.replace(/^export /, '').split(' ')) {
      const [k, v] = pair.split('=');
      env[k!] = v;
    }
    const commands = lines.filter((l) => l.startsWith('npx shardline '));
    const runs = [];
    for (const c of commands) {
      runs.push({ c, run: await spawnCli(c.replace('npx shardline ', '').split(' '), env) });
    }
    demo!.kill('SIGINT');
    const ended = await running;
    // assert
    expect(lines.some((l) => l.startsWith('DynamoDB Local: http://127.0.0.1:'))).toBe(true);
    expect(commands).toHaveLength(4);
    for (const { c, run } of runs) {
      expect({ c, code: run.code, stderr: run.stderr }).toMatchObject({ c, code: ExitCode.Ok });
    }
    const [describeRun, tailRun, lagRun, checkpointsRun] = runs.map((r) => r.run);
    expect(describeRun!.stdout).toContain('shardId-');
    expect(tailRun!.stdout.trim().split('\n')).toHaveLength(5);
    expect(lagRun!.stdout).toContain('shardId-');
    expect(checkpointsRun!.stdout).toContain('shardId-');
    expect(ended.code).toBe(ExitCode.Ok);
    expect(ended.stdout).toContain('✔ The summary equals a full scan of the votes.');
  }, 150_000);
});
