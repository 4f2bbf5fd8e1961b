/**
 * How the command line reports a failure: one line naming the problem, never a
 * stack trace with install paths (`--debug` adds the stack). Node's own errors
 * (a missing file, a refused connection, a bad URL) are translated into what
 * the user did wrong; our own errors already say it.
 */


interface SystemError { code?: string, path?: string, dest?: string, syscall?: string, address?: string, port?: number, hostname?: string, input?: string }

/** One line for any thrown value. */
export function describeError (err: unknown): string {
  // fetch() wraps the socket error: "fetch failed", cause ECONNREFUSED.
  if (err instanceof TypeError && err.message === 'fetch failed' && err.cause !== undefined) return describeError(err.cause)
  if (!(err instanceof Error)) return String(err)
  const e = err as Error & SystemError
  const where = e.path ?? ''
  switch (e.code) {
    case 'ENOENT': return `no such file or directory: ${where}`
    case 'EISDIR': return `${where} is a directory, not a file`
    case 'ENOTDIR': return `${where}: a part of this path is not a directory`
    case 'EEXIST': return `${e.dest ?? where} already exists and is never overwritten: choose another name or remove it first`
    case 'EACCES':
    case 'EPERM': return `permission denied: ${where}`
    case 'ENOSPC': return `no space left on the device${where === '' ? '' : ` writing ${where}`}`
    case 'ECONNREFUSED': return `connection refused by ${e.address ?? '?'}:${e.port ?? '?'}: is the service running there (--url)?`
    case 'ECONNRESET': return 'the connection was reset before an answer arrived'
    case 'ENOTFOUND':
    case 'EAI_AGAIN': return `cannot resolve the host name ${e.hostname ?? ''}`
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT': return 'timed out connecting to the service'
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT': return 'timed out waiting for the answer'
    case 'ERR_INVALID_URL': return `not a valid URL: ${e.input ?? ''}`
    default: return e.message.split('\n')[0] ?? e.name
  }
}
