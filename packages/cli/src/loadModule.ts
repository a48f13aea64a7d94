import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { errorMessage } from '@shardline/core';
import { CliError } from './CliError.js';
import { ExitCode } from './ExitCode.js';

/**
 * Imports a user's module (a path relative to the working directory, or a package name) and
 * reports a missing file or a module that fails to load as what it is.
 */
export async function loadModule(specifier: string): Promise<Record<string, unknown>> {
  const looksLikePath =
    specifier.startsWith('.') || isAbsolute(specifier) || /\.[cm]?[jt]s$/.test(specifier);
  let url = specifier;
  if (looksLikePath) {
    const path = resolve(process.cwd(), specifier);
    if (!existsSync(path)) {
      throw new CliError(
        `Module "${specifier}" does not exist (looked for ${path}).`,
        ExitCode.NotFound,
        'Give the path of the built consumer module, e.g. ./dist/consumer.js (run npm run build first).',
      );
    }
    url = pathToFileURL(path).href;
  }
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    throw new CliError(
      `Module "${specifier}" could not be loaded: ${errorMessage(error)}`,
      ExitCode.Failure,
      'Check that it is an ES module (or CommonJS) that Node can import, and that its dependencies are installed.',
      { cause: error },
    );
  }
}
