/**
 * Waits for `work` to settle, but no longer than `ms`: resolves either way, a failure of `work`
 * included, and leaves no timer behind. For a close that must not hold a shutdown past its
 * deadline (a Redis QUIT, a last span export, to a peer that may never answer).
 */
export async function settleWithin (work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<void>(resolve => { timer = setTimeout(resolve, ms) })
  try {
    await Promise.race([work.then(() => {}, () => {}), late])
  } finally {
    clearTimeout(timer)
  }
}
