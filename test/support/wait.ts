/** Polls `cond` every 5 ms until it holds; rejects after `timeoutMs`. */
export function waitUntil(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) resolve();
      else if (Date.now() > deadline) reject(new Error(`condition not met within ${timeoutMs} ms`));
      else setTimeout(tick, 5);
    };
    tick();
  });
}
