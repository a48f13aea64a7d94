/**
 * Whether DynamoDB Streams calls go to a local endpoint (loopback, as DynamoDB Local and the demo
 * run), read from the SDK's own variables: `AWS_ENDPOINT_URL_DYNAMODB_STREAMS`, else
 * `AWS_ENDPOINT_URL`. Used to say that DynamoDB Local rounds record times to the minute wherever
 * a lag computed from them is shown.
 */
export function isLocalStreamsEndpoint(env: NodeJS.ProcessEnv): boolean {
  const url = env.AWS_ENDPOINT_URL_DYNAMODB_STREAMS ?? env.AWS_ENDPOINT_URL;
  if (!url) return false;
  try {
    const host = new URL(url).hostname;
    return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\./.test(host);
  } catch {
    return false;
  }
}

/** What to say next to a lag computed from DynamoDB Local's record times. */
export const LOCAL_TIME_ROUNDING_NOTE =
  'DynamoDB Local rounds record times (ApproximateCreationDateTime) down to the minute: ages here read up to 60 s high; the service keeps the seconds.';
