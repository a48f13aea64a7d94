import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CliError } from '../../src/CliError.js';
import { ExitCode } from '../../src/ExitCode.js';
import { importOptional } from '../../src/importOptional.js';

const NEEDS_MISSING = pathToFileURL(
  `${import.meta.dirname}/../fixtures/needsMissingPackage.mjs`,
).href;

/** Node's own error for a package that is not installed (the name is built so no tool resolves it). */
function importMissing(): Promise<unknown> {
  const specifier = ['@shardline', 'not-installed'].join('/');
  return import(/* @vite-ignore */ specifier);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('importOptional', () => {
  it('names the missing optional package and the npm line that installs it, exit 4', async () => {
    // act
    const error = await rejection(
      importOptional('@shardline/not-installed', 'shardline demo', importMissing),
    );

    // assert
    expect(error).toBeInstanceOf(CliError);
    const cliError = error as CliError;
    expect(cliError.exitCode).toBe(ExitCode.NotFound);
    expect(cliError.message).toBe(
      'shardline demo needs the package @shardline/not-installed, which is not installed.',
    );
    expect(cliError.hint).toContain('npm i -D @shardline/not-installed');
  });

  it('installs every package the command needs when told', async () => {
    // act
    const error = (await rejection(
      importOptional('@shardline/not-installed', 'shardline demo', importMissing, [
        '@shardline/not-installed',
        '@shardline/other',
      ]),
    )) as CliError;

    // assert
    expect(error.hint).toContain('npm i -D @shardline/not-installed @shardline/other');
  });

  it('names a missing dependency of the optional package, not the package itself', async () => {
    // act
    const error = (await rejection(
      importOptional('@shardline/local', 'shardline dev', () => import(NEEDS_MISSING)),
    )) as CliError;

    // assert
    expect(error).toBeInstanceOf(CliError);
    expect(error.message).toBe(
      'shardline dev needs the package @shardline/not-installed-dependency (for @shardline/local), which is not installed.',
    );
  });

  it('rethrows any other failure as it is', async () => {
    // arrange
    const failure = new TypeError('boom');

    // act
    const error = await rejection(
      importOptional('@shardline/local', 'shardline dev', () => Promise.reject(failure)),
    );

    // assert
    expect(error).toBe(failure);
  });

  it('returns the module when it is installed', async () => {
    // act
    const module = await importOptional('node:path', 'shardline demo', () => import('node:path'));

    // assert
    expect(typeof module.join).toBe('function');
  });
});
