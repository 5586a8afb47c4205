import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

/**
 * Sums up a `--trace-gc-nvp` log (V8 writes one `name=value` line per collection): how much the
 * young-generation collections let through, and the "spells" the gateway has when a load starts,
 * where a large share of what was allocated survives scavenge after scavenge (see
 * docs/benchmarks.md#garbage). For example, the gateway of one round of `bench:hot`:
 *
 *   BENCH_ROUNDS=1 BENCH_GATEWAY_NODE_FLAGS=--trace-gc-nvp BENCH_GATEWAY_LOG=/tmp/gw.log npm run bench:hot
 *   node bench/gc-trace.ts /tmp/gw.log
 */

/** A scavenge with more than this surviving it counts as part of a spell. */
export const SPELL_SURVIVED_BYTES = 5e6

export interface GcSummary {
  /** Young-generation collections (scavenges, or minor mark-sweeps with --minor-ms). */
  minor: number
  /** Those of them with more than SPELL_SURVIVED_BYTES surviving. */
  spell: number
  /** Full (mark-compact) collections. */
  major: number
  /** Bytes allocated, and promoted to the old generation by the minor collections. */
  allocated: number
  promoted: number
  /** Pause time of every collection, in ms. */
  pauseMs: number
  /** Each collection in order: `s` or `mms` with the MB that survived it, `mc` for a full one. */
  sequence: string[]
}

/** The `name=value` fields of one trace line; null for a line that is not one. */
export function gcFields (line: string): Map<string, string> | null {
  if (!line.includes(' gc=')) return null
  const fields = new Map<string, string>()
  for (const part of line.split(' ')) {
    const at = part.indexOf('=')
    if (at > 0) fields.set(part.slice(0, at), part.slice(at + 1))
  }
  return fields
}

export function summariseGcTrace (text: string): GcSummary {
  const summary: GcSummary = { minor: 0, spell: 0, major: 0, allocated: 0, promoted: 0, pauseMs: 0, sequence: [] }
  for (const line of text.split('\n')) {
    const fields = gcFields(line)
    if (fields === null) continue
    const kind = fields.get('gc') ?? ''
    const number = (name: string): number => Number(fields.get(name) ?? 0) || 0
    summary.pauseMs += number('pause')
    if (kind === 's' || kind === 'mms') {
      const survived = number('new_space_survived')
      summary.minor++
      if (survived > SPELL_SURVIVED_BYTES) summary.spell++
      summary.allocated += number('allocated')
      summary.promoted += number('promoted')
      summary.sequence.push(`${kind}:${Math.round(survived / 1e6)}`)
    } else if (kind === 'mc') {
      summary.major++
      summary.sequence.push('mc')
    }
  }
  return summary
}

export function formatGcSummary (s: GcSummary): string {
  const share = s.allocated > 0 ? (100 * s.promoted / s.allocated).toFixed(1) : '0.0'
  return [
    `minor collections ${s.minor}, of them in a spell (over ${SPELL_SURVIVED_BYTES / 1e6} MB surviving) ${s.spell}; full collections ${s.major}`,
    `allocated ${(s.allocated / 1e6).toFixed(0)} MB, promoted ${(s.promoted / 1e6).toFixed(0)} MB (${share}%), pauses ${s.pauseMs.toFixed(0)} ms`,
    `in order (MB surviving each minor collection): ${s.sequence.join(' ')}`
  ].join('\n')
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const path = process.argv[2]
  if (path === undefined) {
    process.stderr.write('usage: node bench/gc-trace.ts <log written with --trace-gc-nvp>\n')
    process.exit(1)
  }
  process.stdout.write(formatGcSummary(summariseGcTrace(readFileSync(path, 'utf8'))) + '\n')
}
