import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

/** Prints the functions with the most self time in the newest CPU profile of bench/profiles/. */
interface Node {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  hitCount?: number
}

const dir = join(import.meta.dirname, 'profiles')
const newest = readdirSync(dir).filter(f => f.endsWith('.cpuprofile')).sort().at(-1)
if (newest === undefined) throw new Error('no profile: run BENCH_PROFILE=1 npm run bench first')
const profile = JSON.parse(readFileSync(join(dir, newest), 'utf8')) as { nodes: Node[] }
const total = profile.nodes.reduce((sum, n) => sum + (n.hitCount ?? 0), 0)
const byFunction = new Map<string, number>()
for (const node of profile.nodes) {
  const { functionName, url, lineNumber } = node.callFrame
  const where = url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/main\//, '')
  const key = `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`
  byFunction.set(key, (byFunction.get(key) ?? 0) + (node.hitCount ?? 0))
}
const top = [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[2] ?? 30))
for (const [name, hits] of top) console.log(`${(100 * hits / total).toFixed(1).padStart(5)}%  ${name}`)
