/**
 * The ECS consumer service's entry point. SIGTERM (ECS stopping the task) stops reading,
 * finishes in-flight records, commits checkpoints, releases leases and exits 0 within
 * SHARDLINE_SHUTDOWN_TIMEOUT_MS (default 25 s, under the task's 30 s stopTimeout).
 */
import { ConfigurationError } from '@shardline/core';
import { startConsumer } from './startConsumer.js';

// The AWS SDK warns on Node < 22 whenever a client is built (NodeVersionSupportWarning); the
// worker's logs are not the place. Set before any client exists; a value from the task wins.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
try {
  await startConsumer();
} catch (error) {
  if (error instanceof ConfigurationError) {
    console.error(error.message);
    process.exit(78); // EX_CONFIG: a stopped task says "fix the configuration", not "retry"
  }
  throw error;
}
