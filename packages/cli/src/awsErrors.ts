import { errorMessage, isRegionMissing, isResourceNotFound } from '@shardline/core';
import { CliError } from './CliError.js';
import { ExitCode } from './ExitCode.js';

const CREDENTIALS_HINT =
  'Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or run on a host with a role). Against DynamoDB Local any values work: AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local.';
const REGION_HINT =
  'Set AWS_REGION, e.g. AWS_REGION=us-east-1 (or a region in the profile named by AWS_PROFILE).';

/**
 * Turns an AWS SDK error into a {@link CliError} that names the problem and the fix: missing
 * region or credentials, an unknown table or stream, an endpoint that does not answer. Errors
 * it does not recognize pass through unchanged.
 *
 * @param what what was being looked up, for "not found" messages (`table Votes`).
 */
export function explainAwsError(error: unknown, what?: string): unknown {
  if (error instanceof CliError) return error;
  const name = (error as { name?: string } | null)?.name ?? '';
  const message = errorMessage(error);
  if (isRegionMissing(error)) {
    return new CliError('No AWS region is configured.', ExitCode.Configuration, REGION_HINT, {
      cause: error,
    });
  }
  if (
    name === 'CredentialsProviderError' ||
    /could not load credentials|credential is missing|Unable to locate credentials/i.test(message)
  ) {
    return new CliError(
      'No AWS credentials were found.',
      ExitCode.Configuration,
      CREDENTIALS_HINT,
      { cause: error },
    );
  }
  if (
    name === 'UnrecognizedClientException' ||
    name === 'InvalidSignatureException' ||
    name === 'ExpiredTokenException' ||
    name === 'AccessDeniedException'
  ) {
    return new CliError(
      `AWS refused the request (${name}: ${message}).`,
      ExitCode.Configuration,
      `Check the credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN or AWS_PROFILE, and that they allow this action. ${CREDENTIALS_HINT}`,
      { cause: error },
    );
  }
  if (isResourceNotFound(error)) {
    return new CliError(
      `${what ? `${capitalize(what)} was not found` : 'Resource not found'} (${message}).`,
      ExitCode.NotFound,
      `Check the name and the region (AWS_REGION=${process.env.AWS_REGION ?? 'unset'}) and endpoint (AWS_ENDPOINT_URL=${process.env.AWS_ENDPOINT_URL ?? 'unset'}); list tables with: aws dynamodb list-tables.`,
      { cause: error },
    );
  }
  const code = (error as { code?: string; cause?: { code?: string } } | null)?.code;
  if (code === 'ECONNREFUSED' || /ECONNREFUSED/.test(message)) {
    return new CliError(
      `Cannot reach the AWS endpoint (${message}).`,
      ExitCode.Failure,
      'Check AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_DYNAMODB_STREAMS, and that the server (e.g. DynamoDB Local) is running.',
      { cause: error },
    );
  }
  return error;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * Resolves the region and credentials an SDK client would use, before any real work, so that a
 * missing one is reported as such instead of as a failure halfway through a command.
 */
export async function assertAwsConfigured(client: {
  config: { region: () => Promise<string>; credentials: () => Promise<unknown> };
}): Promise<void> {
  try {
    const region = await client.config.region();
    if (!region) throw new Error('Region is missing');
  } catch (error) {
    throw explainAwsError(error);
  }
  try {
    await client.config.credentials();
  } catch (error) {
    const explained = explainAwsError(error);
    if (explained instanceof CliError) throw explained;
    throw new CliError(
      `No AWS credentials were found (${errorMessage(error)}).`,
      ExitCode.Configuration,
      CREDENTIALS_HINT,
      { cause: error },
    );
  }
}
