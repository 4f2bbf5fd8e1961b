/**
 * The error table is the contract: every code has a 4xx/5xx status, a title and
 * a fix, maps to an RFC 9457 problem, and is documented in README "Error codes"
 * (and README documents no code that does not exist).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { defineErrorCodes, errorCodes, errorSpec, ServiceError, type ErrorCode } from '../../src/errors.js'
import { packageRoot } from '../../src/paths.js'
import { toProblem } from '../../src/problem.js'
// Every capability adds its codes when loaded: the service's list loads them all.
import '../../src/app/capabilities.js'

const readme = readFileSync(join(packageRoot(), 'README.md'), 'utf8')
const codes = errorCodes() as ErrorCode[]

describe('the error registry', () => {
  it.each(codes)('%s is well-formed, maps to a problem and is in README', (code) => {
    const entry = errorSpec(code)
    expect(code).toMatch(/^IDV_ERR_[A-Z_]+$/)
    expect(entry.status).toBeGreaterThanOrEqual(400)
    expect(entry.status).toBeLessThan(600)
    expect(entry.title.length).toBeGreaterThan(3)
    expect(entry.fix.length).toBeGreaterThan(3)
    const err = new ServiceError(code, 'detail here')
    expect(err.status).toBe(entry.status)
    expect(toProblem(err, 'rid')).toEqual({ type: `/errors#${code}`, title: entry.title, status: entry.status, code, detail: 'detail here', requestId: 'rid' })
    const row = readme.split('\n').find((line) => line.startsWith(`| <a id="${code}"></a>`))
    expect(row, `README documents ${code}`).toBeDefined()
    expect(row).toContain(`| ${entry.status} |`)
  })

  it('README documents no code that does not exist', () => {
    const documented = new Set(readme.match(/IDV_ERR_[A-Z_]+/g))
    for (const code of documented) expect(codes).toContain(code)
  })

  it('refuses a code defined twice with another meaning, and one never defined', () => {
    expect(() => defineErrorCodes({ IDV_ERR_NOT_FOUND: { status: 410, title: 'Gone', fix: 'x' } })).toThrow(/defined twice/)
    expect(() => errorSpec('IDV_ERR_NO_SUCH' as ErrorCode)).toThrow(/never defined/)
  })

  it('turns anything else into a 500 that leaks nothing', () => {
    const p = toProblem(new Error('secret stack detail 001099012345'))
    expect(p).toEqual({ type: '/errors#IDV_ERR_INTERNAL', title: 'Internal error', status: 500, code: 'IDV_ERR_INTERNAL' })
  })
})
