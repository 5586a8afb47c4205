export interface Bar {
  label: string
  value: number
}

function escape (text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** A horizontal bar chart as a standalone SVG: one bar a run, its value printed at its end. */
export function renderChart (bars: readonly Bar[], unit: string): string {
  const width = 640
  const labelWidth = 150
  const barHeight = 28
  const gap = 12
  const top = 36
  const max = Math.max(...bars.map(b => b.value), 1)
  const scale = (width - labelWidth - 110) / max
  const height = top + bars.length * (barHeight + gap) + 8
  const rows = bars.map((bar, i) => {
    const y = top + i * (barHeight + gap)
    const w = Math.max(1, Math.round(bar.value * scale))
    return [
      `<text x="${labelWidth - 8}" y="${y + barHeight / 2 + 5}" text-anchor="end">${escape(bar.label)}</text>`,
      `<rect x="${labelWidth}" y="${y}" width="${w}" height="${barHeight}" rx="3" fill="${bar.label.startsWith('gateway') ? '#4f46e5' : '#94a3b8'}"/>`,
      `<text x="${labelWidth + w + 6}" y="${y + barHeight / 2 + 5}">${Math.round(bar.value).toLocaleString('en-US')}</text>`
    ].join('')
  })
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${labelWidth}" y="22" font-weight="bold">${escape(unit)}</text>`,
    ...rows,
    '</svg>',
    ''
  ].join('\n')
}
