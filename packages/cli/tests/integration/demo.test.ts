import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/ExitCode.js';
import { envWithoutAws, spawnCli } from '../helpers/cli.js';

describe('shardline demo (what npm start runs)', () => {
  it('runs to its check with --duration and exits 0, with no AWS settings at all', async () => {
    // arrange: no region, no credentials, no endpoint: the demo brings its own
    const env = envWithoutAws();

    // act
    const run = await spawnCli(['demo', '--duration', '6', '--rate', '20', '--json'], env, {
      timeoutMs: 90_000,
    });

    // assert
    expect(run.stderr).not.toContain('error:');
    expect(run.stderr).not.toContain('NodeVersionSupportWarning');
    expect(run.code).toBe(ExitCode.Ok);
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const ticks = lines.filter((l) => l.type === 'tick');
    const result = lines.at(-1);
    expect(ticks.length).toBeGreaterThan(0);
    expect(result.type).toBe('result');
    expect(result.matches).toBe(true);
    expect(result.written.written).toBeGreaterThan(20);
    expect(result.written.changed + result.written.deleted).toBeGreaterThan(0);
    expect(result.summary).toEqual(result.scan);
  });

  it('rejects a bad --rate before starting anything', async () => {
    // act
    const run = await spawnCli(['demo', '--rate', 'fast'], envWithoutAws());

    // assert
    expect(run.code).toBe(ExitCode.Usage);
    expect(run.stderr).toContain('--rate "fast"');
  });
});

describe('shardline without AWS settings', () => {
  it('names missing credentials and the fix, exit 3', async () => {
    // arrange: a region but no credentials anywhere
    const env = { ...envWithoutAws(), AWS_REGION: 'us-east-1' };

    // act
    const run = await spawnCli(['describe', 'Votes'], env);

    // assert
    expect(run.code).toBe(ExitCode.Configuration);
    expect(run.stderr).toContain('No AWS credentials were found');
    expect(run.stderr).toContain('AWS_ACCESS_KEY_ID');
  });

  it('names a missing region and the fix, exit 3', async () => {
    // arrange
    const env = { ...envWithoutAws(), AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' };

    // act
    const run = await spawnCli(['lag', '--app', 'vote-aggregation'], env);

    // assert
    expect(run.code).toBe(ExitCode.Configuration);
    expect(run.stderr).toContain('No AWS region is configured');
    expect(run.stderr).toContain('AWS_REGION');
  });

  it('prints help with examples and exits 0', async () => {
    // act
    const run = await spawnCli(['--help'], envWithoutAws());

    // assert
    expect(run.code).toBe(ExitCode.Ok);
    for (const command of ['demo', 'run', 'describe', 'lag', 'tail', 'checkpoints', 'replay']) {
      expect(run.stdout).toContain(command);
    }
    expect(run.stdout).toContain('Examples:');
  });
});
