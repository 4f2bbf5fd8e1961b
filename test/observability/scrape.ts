/**
 * Helpers for the observability tests: a parser for the Prometheus text format
 * (enough to count series and read label values) and sums over its samples.
 */

export interface Series { name: string, labels: Record<string, string>, value: number }

export function parseScrape (text: string): Series[] {
  const out: Series[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null) throw new Error(`unparsable line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!
    out.push({ name: m[1]!, labels, value: Number(m[3]) })
  }
  return out
}

export function total (series: readonly Series[], name: string, where: Record<string, string> = {}): number {
  return series.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0)
}
