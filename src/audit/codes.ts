/**
 * The audit log's failure codes, added to the one error registry
 * (src/errors.ts) by module augmentation.
 */
import { defineErrorCodes } from '../errors.js'

export const AUDIT_ERROR_CODES = defineErrorCodes({
  IDV_ERR_AUDIT_UNAVAILABLE: { status: 503, title: 'Audit log unavailable', fix: 'The answer could not be recorded (disk full or an I/O error; detail says which), so it was not sent; retry after Retry-After, operators see /readyz and the service log.' },
  IDV_ERR_ROLE_FORBIDDEN: { status: 403, title: 'Role required', fix: 'The party registry must give this party the role in detail (citizen-portal or auditor); the refusal is itself recorded in the audit log.' },
  IDV_ERR_AUDIT_NOT_KEPT: { status: 404, title: 'Not in the audit log', fix: 'The entry or tree size is beyond the log, or was removed by retention; ask about a size from GET /v1/audit/checkpoint.' }
}, { retrySoon: ['IDV_ERR_AUDIT_UNAVAILABLE'] })

type AuditCodes = typeof AUDIT_ERROR_CODES
declare module '../errors.js' {
  interface ErrorCodeRegistry extends AuditCodes {}
}
