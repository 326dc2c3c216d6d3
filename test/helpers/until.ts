/**
 * Waits until `condition()` holds, checking every 5 ms, failing after `timeoutMs` with `what`.
 * Only for state that offers no event to await (e.g. "a refresh is now in flight in the gateway").
 */
export async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
