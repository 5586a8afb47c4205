import t from 'tap'
import { isEncoded } from '../../lib/headers.ts'

t.test('isEncoded: any Content-Encoding but identity is one the gateway cannot read', async t => {
  const cases: Array<[string | string[] | undefined, boolean]> = [
    [undefined, false],
    ['', false],
    ['identity', false],
    [' Identity ', false],
    ['gzip', true],
    ['GZIP', true],
    ['br', true],
    ['identity, gzip', true],
    ['gzip, identity', true],
    [['identity', 'deflate'], true],
    [['identity'], false],
    [' , ', false]
  ]
  for (const [value, expected] of cases) t.equal(isEncoded(value), expected, JSON.stringify(value))
})
