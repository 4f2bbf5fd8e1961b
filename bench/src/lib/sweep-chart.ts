/**
 * The chart of `npm run bench -- <scenario> --sweep`: latency percentiles
 * (p50, p99, p99.9) against offered load, as a self-contained SVG written as
 * text (no chart library). Latency is on a logarithmic axis, because past
 * capacity it grows by orders of magnitude (queues), and the offered load on
 * a linear one, marked with each point's share of the capacity.
 */

export interface SweepPoint {
  /** Share of the capacity offered, percent. */
  readonly percent: number
  readonly offeredRps: number
  readonly throughputRps: number
  readonly latencyMs: { readonly p50: number, readonly p99: number, readonly p999: number }
  readonly errorRatio: number
}

export interface SweepChartOptions {
  readonly title: string
  /** A line under the title (capacity, shape, commit). */
  readonly subtitle?: string
  readonly width?: number
  readonly height?: number
}

const SERIES = [
  { key: 'p50', label: 'p50', color: '#1b9e77' },
  { key: 'p99', label: 'p99', color: '#d95f02' },
  { key: 'p999', label: 'p99.9', color: '#7570b3' }
] as const

export function escapeXml (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** Coordinates with two decimals: stable text for tests and diffs. */
const c = (x: number): string => String(Math.round(x * 100) / 100)

/** Decade ticks with 2 and 5 between them, covering [lo, hi]. */
export function logTicks (lo: number, hi: number): number[] {
  const ticks: number[] = []
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e
      if (v >= lo * 0.999 && v <= hi * 1.001) ticks.push(Number(v.toPrecision(1)))
    }
  }
  return ticks
}

/** Round ticks (a 1, 2, 2.5 or 5 step, at most 9) from 0 to the first at or above `hi`. */
export function linearTicks (hi: number): number[] {
  const raw = hi / 5
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => hi / s <= 8)!
  const ticks: number[] = []
  for (let i = 0; ; i++) {
    const v = Math.round(i * step * 1e6) / 1e6
    ticks.push(v)
    if (v >= hi * (1 - 1e-9)) return ticks
  }
}

function formatMs (v: number): string {
  return v >= 1000 ? `${v / 1000} s` : `${v} ms`
}

export function sweepSvg (points: readonly SweepPoint[], o: SweepChartOptions): string {
  if (points.length === 0) throw new Error('a sweep chart needs at least one point')
  const width = o.width ?? 720
  const height = o.height ?? 440
  const m = { left: 70, right: 110, top: o.subtitle === undefined ? 40 : 58, bottom: 56 }
  const plotW = width - m.left - m.right
  const plotH = height - m.top - m.bottom
  const sorted = [...points].sort((a, b) => a.offeredRps - b.offeredRps)

  const values = sorted.flatMap((p) => [p.latencyMs.p50, p.latencyMs.p99, p.latencyMs.p999]).map((v) => Math.max(v, 0.001))
  // Whole 1-2-5 steps around the data, so the lines never touch the frame.
  const lo = 10 ** Math.floor(Math.log10(Math.min(...values)))
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...values) * 1.0001))
  const y = (v: number): number => m.top + plotH - ((Math.log10(Math.max(v, 0.001)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotH
  const xTicks = linearTicks(sorted[sorted.length - 1]!.offeredRps)
  const xMax = xTicks[xTicks.length - 1]!
  const x = (v: number): number => m.left + (v / xMax) * plotW

  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`)
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`)
  out.push(`<text x="${c(width / 2)}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(o.title)}</text>`)
  if (o.subtitle !== undefined) out.push(`<text x="${c(width / 2)}" y="40" text-anchor="middle" fill="#555555">${escapeXml(o.subtitle)}</text>`)
  // Grid and axes.
  for (const t of logTicks(lo, hi)) {
    const ty = y(t)
    const decade = Number.isInteger(Math.log10(t))
    out.push(`<line x1="${m.left}" y1="${c(ty)}" x2="${m.left + plotW}" y2="${c(ty)}" stroke="${decade ? '#cccccc' : '#eeeeee'}"/>`)
    out.push(`<text x="${m.left - 6}" y="${c(ty + 4)}" text-anchor="end">${escapeXml(formatMs(t))}</text>`)
  }
  for (const t of xTicks) {
    out.push(`<line x1="${c(x(t))}" y1="${m.top}" x2="${c(x(t))}" y2="${m.top + plotH}" stroke="#eeeeee"/>`)
    out.push(`<text x="${c(x(t))}" y="${m.top + plotH + 16}" text-anchor="middle">${t.toLocaleString('en')}</text>`)
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333333"/>`)
  out.push(`<text x="${c(m.left + plotW / 2)}" y="${height - 12}" text-anchor="middle">offered load, req/s (share of capacity above each point)</text>`)
  out.push(`<text x="16" y="${c(m.top + plotH / 2)}" text-anchor="middle" transform="rotate(-90 16 ${c(m.top + plotH / 2)})">latency (log scale)</text>`)
  // Each point's share of capacity, and a mark where answers were missing or wrong.
  for (const p of sorted) {
    out.push(`<text x="${c(x(p.offeredRps))}" y="${m.top - 6}" text-anchor="middle" fill="#555555" font-size="10">${p.percent}%${p.errorRatio > 0 ? ' !' : ''}</text>`)
  }
  // The series.
  for (const s of SERIES) {
    const pts = sorted.map((p) => `${c(x(p.offeredRps))},${c(y(p.latencyMs[s.key]))}`)
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.join(' ')}"/>`)
    for (const p of sorted) {
      out.push(`<circle cx="${c(x(p.offeredRps))}" cy="${c(y(p.latencyMs[s.key]))}" r="3.5" fill="${s.color}"><title>${escapeXml(`${s.label} ${formatMs(p.latencyMs[s.key])} at ${p.offeredRps.toLocaleString('en')} req/s offered (${p.percent}%), ${p.throughputRps.toLocaleString('en')} answered/s`)}</title></circle>`)
    }
  }
  // Legend.
  SERIES.forEach((s, i) => {
    const ly = m.top + 14 + i * 20
    out.push(`<line x1="${m.left + plotW + 14}" y1="${ly}" x2="${m.left + plotW + 38}" y2="${ly}" stroke="${s.color}" stroke-width="2"/>`)
    out.push(`<text x="${m.left + plotW + 44}" y="${ly + 4}">${s.label}</text>`)
  })
  if (sorted.some((p) => p.errorRatio > 0)) out.push(`<text x="${m.left + plotW + 14}" y="${m.top + 14 + SERIES.length * 20}" font-size="10" fill="#555555">! errors</text>`)
  out.push('</svg>')
  return out.join('\n') + '\n'
}
