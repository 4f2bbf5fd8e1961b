/**
 * A usage error (the run exits 2 and prints the usage), and positiveInt, the
 * check every numeric option goes through.
 */
export class UsageError extends Error {}

/** The value of --name as an integer ≥ min, or fallback when it was not given. */
export function positiveInt (name: string, v: string | undefined, fallback: number, min = 1): number {
  if (v === undefined) return fallback
  const n = Number(v)
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`)
  return n
}
