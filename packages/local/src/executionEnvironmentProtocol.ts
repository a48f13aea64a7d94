/** A message from the mapping to an execution environment. */
export interface EnvironmentRequest {
  readonly type: 'invoke';
  readonly id: number;
  readonly event: unknown;
  /** The function timeout, for `context.getRemainingTimeInMillis()`. */
  readonly timeoutMs: number;
  /** A fault: never answer after the handler returned, so the invocation times out. */
  readonly stallAfterHandler: boolean;
}

/** An error as it crosses the process boundary. */
export interface EnvironmentError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
}

/** A message from an execution environment to the mapping. */
export type EnvironmentReply =
  | { readonly type: 'ready' }
  | { readonly type: 'init-error'; readonly error: EnvironmentError }
  | {
      readonly type: 'result';
      readonly id: number;
      readonly ok: true;
      readonly response: unknown;
    }
  | {
      readonly type: 'result';
      readonly id: number;
      readonly ok: false;
      readonly error: EnvironmentError;
    };
