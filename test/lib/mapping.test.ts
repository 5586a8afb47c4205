import t from 'tap'
import { join } from 'node:path'
import { loadMappingFile, parseMapping, resolveTenant, routeChanged } from '../../lib/mapping.ts'
import { ConfigError } from '../../lib/errors.ts'

const ORG = 'org_01K8BHJC61A42KN38TB98HZHTQ'
const OTHER_ORG = 'org_01OTHERORG000000000000000'

/** The ConfigError a call throws; fails the test when it throws nothing or something else. */
function configError (fn: () => unknown): ConfigError {
  try {
    fn()
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error('expected a ConfigError, nothing was thrown')
}

t.test('the flat form maps an organization to a partition with the default key and every role', async t => {
  const mapping = parseMapping({ [ORG]: 'soc2' }, {})
  t.same(mapping.get(ORG), { partition: 'soc2', apiKey: undefined, allowedRoles: undefined })
  t.equal(mapping.size, 1)
})

t.test('the object form carries partition, the key read from apiKeyEnv, and allowedRoles', async t => {
  const mapping = parseMapping({
    [ORG]: { partition: 'soc2', apiKeyEnv: 'RAGIE_KEY_SOC2', allowedRoles: ['admin', 'member'] },
    [OTHER_ORG]: { partition: 'other' }
  }, { RAGIE_KEY_SOC2: 'key_soc2' })
  t.same(mapping.get(ORG), { partition: 'soc2', apiKey: 'key_soc2', allowedRoles: ['admin', 'member'] })
  t.same(mapping.get(OTHER_ORG), { partition: 'other', apiKey: undefined, allowedRoles: undefined })
})

t.test('the key file holds the variable name, never the key: the entry shows no name', async t => {
  const route = parseMapping({ [ORG]: { partition: 'soc2', apiKeyEnv: 'RAGIE_KEY_SOC2' } }, { RAGIE_KEY_SOC2: ' key_soc2 ' }).get(ORG)
  t.equal(route?.apiKey, 'key_soc2', 'surrounding whitespace is trimmed')
  t.notOk(route !== undefined && 'apiKeyEnv' in route)
})

t.test('a key read through apiKeyEnv is held to RAGIE_API_KEY\'s rule: no space or line break inside', async t => {
  for (const value of ['key soc2', 'key\nsoc2', 'key\r\nX-Injected: 1', 'key\tsoc2']) {
    const err = configError(() => parseMapping({ [ORG]: { partition: 'soc2', apiKeyEnv: 'RAGIE_KEY_SOC2' } }, { RAGIE_KEY_SOC2: value }))
    t.equal(err.message, `entry "${ORG}": environment variable RAGIE_KEY_SOC2 (apiKeyEnv) must be a key without spaces`, JSON.stringify(value))
    t.notOk(err.message.includes(value), 'the key itself is not in the message')
  }
})

t.test('routes are frozen', async t => {
  const route = parseMapping({ [ORG]: 'soc2' }, {}).get(ORG)
  t.ok(Object.isFrozen(route))
})

t.test('an empty document is an empty mapping', async t => {
  t.equal(parseMapping({}, {}).size, 0)
})

t.test('a document that is not an object is refused', async t => {
  for (const doc of [null, [], 'soc2', 42, true]) {
    t.match(configError(() => parseMapping(doc, {})).message, /JSON object/, JSON.stringify(doc))
  }
})

t.test('keys that are not organization ids are refused, prototype names included', async t => {
  for (const key of ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'org_', 'org_a.b', 'org_a/b', 'ORG_ABC', 'soc2']) {
    // JSON.parse makes "__proto__" an own key, as a mapping file would.
    const doc: unknown = JSON.parse(`{${JSON.stringify(key)}: "soc2"}`)
    const err = configError(() => parseMapping(doc, {}))
    t.match(err.message, `entry "${key}"`, key)
    t.match(err.message, /organization id/, key)
  }
})

t.test('inherited properties of the document are never entries', async t => {
  const doc = Object.create({ [OTHER_ORG]: 'inherited' }) as Record<string, unknown>
  doc[ORG] = 'soc2'
  const mapping = parseMapping(doc, {})
  t.same([...mapping.keys()], [ORG])
})

t.test('partitions that break the pattern are refused with the entry named', async t => {
  for (const partition of ['Bad Name!', 'SOC2', '', 'a'.repeat(65), '../x', 'a/b', 'soc2 ', 'sö']) {
    const err = configError(() => parseMapping({ [ORG]: partition }, {}))
    t.match(err.message, `entry "${ORG}"`, JSON.stringify(partition))
    t.match(err.message, /partition/, JSON.stringify(partition))
    const objectForm = configError(() => parseMapping({ [ORG]: { partition } }, {}))
    t.match(objectForm.message, `entry "${ORG}"`)
  }
  t.equal(parseMapping({ [ORG]: 'a'.repeat(64) }, {}).get(ORG)?.partition, 'a'.repeat(64), '64 characters is the limit')
  t.equal(parseMapping({ [ORG]: 'a_b-9' }, {}).get(ORG)?.partition, 'a_b-9')
})

t.test('entries of the wrong shape are refused with the entry named', async t => {
  const bad: unknown[] = [
    42,
    null,
    ['soc2'],
    {},
    { partition: 'soc2', partitions: 'x' },
    { partition: 'soc2', apiKey: 'sk_live_in_the_file' },
    { partition: 42 },
    { partition: 'soc2', allowedRoles: [] },
    { partition: 'soc2', allowedRoles: [''] },
    { partition: 'soc2', allowedRoles: 'admin' },
    { partition: 'soc2', apiKeyEnv: 42 }
  ]
  for (const entry of bad) {
    const err = configError(() => parseMapping({ [ORG]: entry }, {}))
    t.match(err.message, `entry "${ORG}"`, JSON.stringify(entry))
  }
})

t.test('an apiKeyEnv naming an unset or empty variable is refused with the variable named', async t => {
  for (const env of [{}, { RAGIE_KEY_SOC2: '' }, { RAGIE_KEY_SOC2: '   ' }]) {
    const err = configError(() => parseMapping({ [ORG]: { partition: 'soc2', apiKeyEnv: 'RAGIE_KEY_SOC2' } }, env))
    t.match(err.message, `entry "${ORG}"`)
    t.match(err.message, 'RAGIE_KEY_SOC2')
    t.match(err.message, /not set/)
  }
})

t.test('an apiKeyEnv that is not a variable name is refused', async t => {
  for (const name of ['sk_live abc', '1KEY', 'KEY-SOC2', '']) {
    const err = configError(() => parseMapping({ [ORG]: { partition: 'soc2', apiKeyEnv: name } }, { [name]: 'x' }))
    t.match(err.message, `entry "${ORG}"`, JSON.stringify(name))
  }
})

t.test('an apiKeyEnv never reads a prototype property of the environment', async t => {
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    const err = configError(() => parseMapping({ [ORG]: { partition: 'soc2', apiKeyEnv: name } }, { RAGIE_KEY_SOC2: 'k' }))
    t.match(err.message, /not set/, name)
  }
})

t.test('loadMappingFile reads a file in either form', async t => {
  const dir = t.testdir({
    'flat.json': JSON.stringify({ [ORG]: 'soc2' }),
    'object.json': JSON.stringify({ [ORG]: { partition: 'soc2', apiKeyEnv: 'RAGIE_KEY_SOC2', allowedRoles: ['admin'] } })
  })
  t.same(loadMappingFile(join(dir, 'flat.json'), {}).get(ORG), { partition: 'soc2', apiKey: undefined, allowedRoles: undefined })
  t.same(loadMappingFile(join(dir, 'object.json'), { RAGIE_KEY_SOC2: 'k' }).get(ORG), { partition: 'soc2', apiKey: 'k', allowedRoles: ['admin'] })
})

t.test('loadMappingFile names the file when it does not exist', async t => {
  const file = join(t.testdir({}), 'missing.json')
  const err = configError(() => loadMappingFile(file, {}))
  t.match(err.message, file)
  t.match(err.message, /does not exist/)
})

t.test('loadMappingFile names the file when it cannot be read', async t => {
  const dir = t.testdir({ 'a-directory.json': {} })
  const file = join(dir, 'a-directory.json')
  const err = configError(() => loadMappingFile(file, {}))
  t.match(err.message, file)
  t.match(err.message, /cannot be read/)
})

t.test('loadMappingFile names the file when it is not JSON', async t => {
  const dir = t.testdir({ 'bad.json': `{ "${ORG}": soc2 }` })
  const file = join(dir, 'bad.json')
  const err = configError(() => loadMappingFile(file, {}))
  t.match(err.message, file)
  t.match(err.message, /not valid JSON/)
})

t.test('loadMappingFile names the file and the entry when an entry is invalid', async t => {
  const dir = t.testdir({ 'entry.json': JSON.stringify({ [OTHER_ORG]: 'fine', [ORG]: 'Bad Name!' }) })
  const file = join(dir, 'entry.json')
  const err = configError(() => loadMappingFile(file, {}))
  t.match(err.message, file)
  t.match(err.message, `entry "${ORG}"`)
  t.match(err.message, 'Bad Name!')
})

t.test('loadMappingFile refuses a "__proto__" key rather than dropping it', async t => {
  const dir = t.testdir({ 'proto.json': `{ "${ORG}": "soc2", "__proto__": { "partition": "evil" } }` })
  const err = configError(() => loadMappingFile(join(dir, 'proto.json'), {}))
  t.match(err.message, 'entry "__proto__"')
  t.equal(({} as Record<string, unknown>).partition, undefined, 'no prototype was polluted')
})

t.test('resolveTenant returns the mapped route', async t => {
  const mapping = parseMapping({ [ORG]: { partition: 'soc2', allowedRoles: ['admin'] } }, {})
  t.same(resolveTenant(mapping, ORG, false), { partition: 'soc2', apiKey: undefined, allowedRoles: ['admin'] })
  t.same(resolveTenant(mapping, ORG, true), { partition: 'soc2', apiKey: undefined, allowedRoles: ['admin'] })
})

t.test('resolveTenant gives an unmapped organization its id lower-cased when not strict', async t => {
  const mapping = parseMapping({ [ORG]: 'soc2' }, {})
  t.same(resolveTenant(mapping, OTHER_ORG, false), { partition: OTHER_ORG.toLowerCase(), apiKey: undefined, allowedRoles: undefined })
  t.same(resolveTenant(new Map(), ORG, false), { partition: ORG.toLowerCase(), apiKey: undefined, allowedRoles: undefined })
})

t.test('resolveTenant gives an unmapped organization nothing in strict mode', async t => {
  const mapping = parseMapping({ [ORG]: 'soc2' }, {})
  t.equal(resolveTenant(mapping, OTHER_ORG, true), null)
})

t.test('resolveTenant never returns a prototype property', async t => {
  const mapping = parseMapping({ [ORG]: 'soc2' }, {})
  for (const org of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'org_constructor', 'org_proto']) {
    t.equal(resolveTenant(mapping, org, true), null, `${org} in strict mode`)
    t.same(resolveTenant(mapping, org, false), { partition: org.toLowerCase(), apiKey: undefined, allowedRoles: undefined }, `${org} otherwise`)
  }
})

t.test('resolveTenant matches organization ids exactly, case included', async t => {
  const mapping = parseMapping({ [ORG]: 'soc2' }, {})
  t.equal(resolveTenant(mapping, ORG.toLowerCase(), true), null)
  t.equal(resolveTenant(mapping, `${ORG}X`, true), null)
})

t.test('routeChanged: removed, another partition, another key, other roles; the same route is no change', async t => {
  const env = { KEY_1: 'key_1', KEY_2: 'key_2' }
  const base = parseMapping({ [ORG]: { partition: 'soc2', apiKeyEnv: 'KEY_1', allowedRoles: ['admin', 'member'] } }, env)
  const changed = (after: object, strict = true, org = ORG): boolean => routeChanged(base, parseMapping(after, env), org, strict)
  t.notOk(changed({ [ORG]: { partition: 'soc2', apiKeyEnv: 'KEY_1', allowedRoles: ['member', 'admin'] } }), 'the same route, roles in another order')
  t.notOk(changed({ [ORG]: { partition: 'soc2', apiKeyEnv: 'KEY_1', allowedRoles: ['admin', 'member'] }, [OTHER_ORG]: 'x' }), 'another organization added')
  t.ok(changed({}), 'removed, strict: no route any more')
  t.ok(changed({}, false), 'removed, not strict: its default partition now')
  t.ok(changed({ [ORG]: { partition: 'soc3', apiKeyEnv: 'KEY_1', allowedRoles: ['admin', 'member'] } }), 'another partition')
  t.ok(changed({ [ORG]: { partition: 'soc2', apiKeyEnv: 'KEY_2', allowedRoles: ['admin', 'member'] } }), 'another key')
  t.ok(changed({ [ORG]: { partition: 'soc2', apiKeyEnv: 'KEY_1', allowedRoles: ['admin'] } }), 'fewer roles')
  t.ok(changed({ [ORG]: { partition: 'soc2', apiKeyEnv: 'KEY_1' } }), 'every role now')
  t.notOk(routeChanged(new Map(), new Map(), OTHER_ORG, false), 'unmapped before and after, not strict')
  t.notOk(routeChanged(new Map(), new Map(), OTHER_ORG, true), 'refused before and after, strict')
})
