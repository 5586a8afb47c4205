import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { ROOT } from '../helper.ts'

const IMPORT = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g

function tsFiles (dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter(f => f.endsWith('.ts'))
    .map(f => join(ROOT, dir, f))
}

/** Every local file reachable by static imports from `entries`. */
function reachable (entries: string[]): Set<string> {
  const seen = new Set<string>()
  const queue = [...entries]
  while (queue.length > 0) {
    const file = queue.pop() as string
    if (seen.has(file)) continue
    seen.add(file)
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3]
      if (spec.startsWith('.')) queue.push(resolve(dirname(file), spec))
    }
  }
  return seen
}

t.test('nothing of the sandbox or its stand-ins is reachable from the gateway', async t => {
  // app.ts autoloads every file of plugins/ and routes/, so they are entries too.
  const entries = [join(ROOT, 'app.ts'), join(ROOT, 'server.ts'), ...tsFiles('plugins'), ...tsFiles('routes'), ...tsFiles('lib')]
  const files = [...reachable(entries)].map(f => relative(ROOT, f))
  t.ok(files.includes('lib/config.ts'), 'the import walk works')
  const leaks = files.filter(f => /^(test|sandbox|examples)\//.test(f))
  t.same(leaks, [], 'no production file imports test fixtures, the sandbox or the examples')
})
