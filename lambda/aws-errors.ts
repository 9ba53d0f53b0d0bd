/**
 * What to add to a failed AWS call's message when it never reached the service: in isolated
 * subnets a function needs an interface endpoint for every AWS API it calls.
 */

const UNREACHABLE_CODES = new Set([
  'ETIMEDOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
]);

/** True when the call failed on the network (timeout, no route, no DNS) rather than with an API error. */
function isUnreachable(error: unknown): boolean {
  const candidate = error as { name?: string; code?: string; message?: string };
  if (candidate?.name === 'TimeoutError' || (candidate?.code && UNREACHABLE_CODES.has(candidate.code)))
    return true;
  return /timed? ?out|ETIMEDOUT|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|socket hang up/i.test(
    candidate?.message ?? '',
  );
}

/**
 * `; the call did not reach Secrets Manager...` for network failures, '' otherwise.
 * `endpoint` is the interface endpoint's service name (`secretsmanager`, `rds`, `cloudformation`).
 */
export function awsCallHint(error: unknown, service: string, endpoint: string): string {
  if (!isUnreachable(error)) return '';
  return (
    `. The call did not reach ${service}: the function may lack a route to it. In isolated subnets it needs an ` +
    `interface VPC endpoint for com.amazonaws.<region>.${endpoint} (the construct can create one), ` +
    'and its security group must allow HTTPS to it'
  );
}
