import { loadConfig } from '../lib/config.ts'
import { formatChecks, runChecks } from '../lib/doctor.ts'

/** `npm run doctor`: checks this environment's configuration against the services it names. */
let config
try {
  config = loadConfig(process.env)
} catch (err) {
  process.stdout.write(`✗ configuration: ${(err as Error).message}\n    fix: see env.example\n`)
  process.exit(1)
}
const checks = await runChecks(config, process.env)
process.stdout.write(formatChecks(checks) + '\n')
const failed = checks.filter(c => !c.ok).length
process.stdout.write(failed === 0 ? 'all checks passed\n' : `${failed} check(s) failed\n`)
process.exit(failed === 0 ? 0 : 1)
