import { randomInt } from 'node:crypto'
import { runHostile } from './run.ts'

// `npm run fuzz`: the hostile suite, longer and with a random seed (FUZZ_SEED replays a run).
const seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : randomInt(2 ** 31)
const count = Number(process.env.FUZZ_COUNT ?? 100_000)
const concurrency = Number(process.env.FUZZ_CONCURRENCY ?? 32)
const teardowns: Array<() => unknown> = []

process.stdout.write(`hostile fuzz: seed ${seed}, ${count} requests (replay: FUZZ_SEED=${seed} FUZZ_COUNT=${count} npm run fuzz)\n`)
let failed = true
try {
  const report = await runHostile({ teardown: fn => teardowns.push(fn) }, { seed, count, concurrency, log: line => process.stdout.write(`  ${line}\n`) })
  const growth = (report.heapAtEnd - report.heapAfterWarmUp) / 1048576
  process.stdout.write(`${JSON.stringify({ ...report, violations: report.violations.length }, null, 2)}\n`)
  process.stdout.write(`heap growth after warm-up: ${growth.toFixed(1)} MiB\n`)
  for (const v of report.violations.slice(0, 50)) process.stdout.write(`VIOLATION ${v}\n`)
  failed = report.violations.length > 0 || !report.alive || growth > 64
} finally {
  for (const fn of teardowns.reverse()) await fn()
}
process.stdout.write(failed ? 'FAILED\n' : 'ok\n')
process.exit(failed ? 1 : 0)
