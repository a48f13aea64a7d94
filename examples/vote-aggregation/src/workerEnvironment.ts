/**
 * The environment as the worker's `loadWorkerSettings` expects it. This recipe names its
 * application with `SHARDLINE_APP` (as the recipes' contract says); the worker's own variable is
 * `SHARDLINE_APPLICATION_NAME`, and it rejects `SHARDLINE_*` names it does not know, so the
 * recipe's variable is translated here rather than passed through.
 */
export function workerEnvironment(
  env: NodeJS.ProcessEnv,
  applicationName: string,
): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...env };
  delete out.SHARDLINE_APP;
  out.SHARDLINE_APPLICATION_NAME = env.SHARDLINE_APPLICATION_NAME ?? applicationName;
  return out;
}
