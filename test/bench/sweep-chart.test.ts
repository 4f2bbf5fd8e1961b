/**
 * The SVG chart of `npm run bench -- <scenario> --sweep`, on fixed data, and
 * the sweep's points and traffic shapes.
 */
import { describe, expect, it } from 'vitest'
import { escapeXml, linearTicks, logTicks, sweepSvg, type SweepPoint } from '../../bench/src/lib/sweep-chart.js'
import { loadScenario } from '../../bench/src/lib/scenario.js'
import { resolveShape, sweepShape } from '../../bench/src/suite/traffic-shape.js'
import { DEFAULT_SWEEP_POINTS, parseSweepPoints } from '../../bench/src/suite/run-options.js'

const points: SweepPoint[] = [
  // Given out of order: the chart sorts by offered load.
  { percent: 100, offeredRps: 10_000, throughputRps: 9800, latencyMs: { p50: 4, p99: 40, p999: 90 }, errorRatio: 0 },
  { percent: 25, offeredRps: 2500, throughputRps: 2500, latencyMs: { p50: 0.8, p99: 2.1, p999: 4 }, errorRatio: 0 },
  { percent: 50, offeredRps: 5000, throughputRps: 5000, latencyMs: { p50: 1, p99: 3, p999: 7.5 }, errorRatio: 0 },
  { percent: 125, offeredRps: 12_500, throughputRps: 10_000, latencyMs: { p50: 900, p99: 2500, p999: 3100 }, errorRatio: 0.01 }
]

describe('sweep chart (SVG)', () => {
  const svg = sweepSvg(points, { title: 'portal-verify: latency <vs> offered load', subtitle: 'capacity 10,000 req/s & more' })

  it('is one self-contained SVG document with the title and subtitle escaped', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="720" height="440" viewBox="0 0 720 440"')).toBe(true)
    expect(svg.endsWith('</svg>\n')).toBe(true)
    expect(svg.match(/<svg/g)).toHaveLength(1)
    expect(svg).toContain('>portal-verify: latency &lt;vs&gt; offered load</text>')
    expect(svg).toContain('>capacity 10,000 req/s &amp; more</text>')
    expect(svg).not.toMatch(/NaN|undefined|Infinity/)
    // Every element opened is closed (no nesting beyond circle > title).
    expect(svg.match(/<circle /g)!.length).toBe(svg.match(/<\/circle>/g)!.length)
    expect(svg.match(/<text /g)!.length).toBe(svg.match(/<\/text>/g)!.length)
  })

  it('draws p50, p99 and p99.9 as lines over offered load (linear, 0–14,000) and latency (log, 0.1 ms–10 s)', () => {
    const lines = [...svg.matchAll(/<polyline fill="none" stroke="(#[0-9a-f]{6})" stroke-width="2" points="([^"]+)"\/>/g)].map((m) => [m[1], m[2]])
    // x = 70 + offered / 14,000 × 540; y = 384 − (log10(ms) + 1) / 5 × 326 (plot 58–384).
    expect(lines).toEqual([
      ['#1b9e77', '166.43,325.12 262.86,318.8 455.71,279.55 552.14,126.18'],
      ['#d95f02', '166.43,297.79 262.86,287.69 455.71,214.35 552.14,97.25'],
      ['#7570b3', '166.43,279.55 262.86,261.75 455.71,191.38 552.14,91.16']
    ])
    // The 1 ms grid line lies exactly where p50 = 1 ms is drawn.
    expect(svg).toContain('<line x1="70" y1="318.8" x2="610" y2="318.8" stroke="#cccccc"/>')
    expect(svg).toContain('>1 ms</text>')
    expect(svg).toContain('>2 s</text>')
    expect(svg).toContain('>14,000</text>')
    // Each point has a dot with its figures on hover.
    expect(svg.match(/<circle /g)).toHaveLength(12)
    expect(svg).toContain('<title>p99 40 ms at 10,000 req/s offered (100%), 9,800 answered/s</title>')
  })

  it('labels each point with its share of capacity and marks points with errors', () => {
    const labels = [...svg.matchAll(/font-size="10"[^>]*>([^<]+)<\/text>/g)].map((m) => m[1])
    expect(labels).toEqual(['25%', '50%', '100%', '125% !', '! errors'])
    expect(svg).toContain('>p50</text>')
    expect(svg).toContain('>p99</text>')
    expect(svg).toContain('>p99.9</text>')
    expect(sweepSvg(points.slice(0, 3), { title: 't' })).not.toContain('errors')
  })

  it('chooses round ticks and refuses an empty sweep', () => {
    expect(logTicks(0.1, 10_000)).toEqual([0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000])
    expect(logTicks(1, 10)).toEqual([1, 2, 5, 10])
    expect(linearTicks(12_500)).toEqual([0, 2000, 4000, 6000, 8000, 10_000, 12_000, 14_000])
    expect(linearTicks(10_000)).toEqual([0, 2000, 4000, 6000, 8000, 10_000])
    expect(linearTicks(130)).toEqual([0, 20, 40, 60, 80, 100, 120, 140])
    expect(linearTicks(900)).toEqual([0, 200, 400, 600, 800, 1000])
    expect(escapeXml('a<b>&"c"')).toBe('a&lt;b&gt;&amp;&quot;c&quot;')
    expect(() => sweepSvg([], { title: 't' })).toThrow(/at least one point/)
  })
})

describe('sweep points and shapes', () => {
  it('reads --sweep-points as sorted, distinct percentages', () => {
    expect(parseSweepPoints(undefined)).toEqual(DEFAULT_SWEEP_POINTS)
    expect(DEFAULT_SWEEP_POINTS).toEqual([25, 50, 75, 100, 125])
    expect(parseSweepPoints('100, 50,50,150')).toEqual([50, 100, 150])
    expect(() => parseSweepPoints('50,x')).toThrow(/--sweep-points/)
    expect(() => parseSweepPoints('0')).toThrow(/--sweep-points/)
  })

  it('paces each point at its share of capacity, raising a rate that would let connections idle out', async () => {
    const shape = resolveShape(await loadScenario('portal-verify'), {})
    expect(sweepShape(shape, 16_000, 25)).toMatchObject({ rate: 4000, intervalMs: 25, connections: 100, notes: [] })
    expect(sweepShape(shape, 16_000, 125)).toMatchObject({ rate: 20_000, intervalMs: 5 })
    const tiny = sweepShape(shape, 40, 25)
    expect(tiny.rate).toBe(17) // 100 connections, each at least every 6 s
    expect(tiny.notes[0]).toMatch(/25%: rate raised from 10 to 17 req\/s/)
  })
})
