/**
 * A TCP proxy on loopback that can cut one client off from one server, as a
 * network partition does:
 * - `cut('blackhole')`: bytes stop flowing both ways and new connections get
 *   no answer, while the sockets stay open (no FIN, no RST): what a pulled
 *   cable or a dropping firewall looks like to both ends. `restore()` lets the
 *   held bytes through, as TCP's retransmissions would once the path heals.
 * - `cut('reset')`: every connection is reset and new ones are reset on accept.
 */
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net'

interface Link {
  readonly client: Socket
  upstream: Socket | undefined
  /** Bytes waiting while the link is blackholed, per direction. */
  readonly toServer: Buffer[]
  readonly toClient: Buffer[]
}

export class TcpProxy {
  readonly #server: Server
  readonly #target: { host: string, port: number }
  readonly #links = new Set<Link>()
  #cut: 'blackhole' | 'reset' | undefined

  private constructor (server: Server, target: { host: string, port: number }) {
    this.#server = server
    this.#target = target
    server.on('connection', (client) => { this.#accept(client) })
  }

  static async start (target: { host: string, port: number }, host = '127.0.0.1'): Promise<TcpProxy> {
    const server = createServer()
    const proxy = new TcpProxy(server, target)
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, host, resolve) })
    return proxy
  }

  get port (): number { return (this.#server.address() as AddressInfo).port }
  get connections (): number { return this.#links.size }

  cut (mode: 'blackhole' | 'reset' = 'blackhole'): void {
    this.#cut = mode
    if (mode === 'reset') for (const link of this.#links) this.#drop(link)
  }

  restore (): void {
    this.#cut = undefined
    for (const link of this.#links) this.#flow(link)
  }

  async close (): Promise<void> {
    for (const link of this.#links) this.#drop(link)
    await new Promise<void>((resolve) => { this.#server.close(() => { resolve() }) })
  }

  #accept (client: Socket): void {
    if (this.#cut === 'reset') { client.resetAndDestroy(); return }
    const link: Link = { client, upstream: undefined, toServer: [], toClient: [] }
    this.#links.add(link)
    client.on('data', (chunk) => {
      if (this.#cut !== undefined || link.upstream === undefined) link.toServer.push(chunk)
      else link.upstream.write(chunk)
    })
    client.on('error', () => { this.#drop(link) })
    client.on('close', () => { this.#drop(link) })
    this.#flow(link)
  }

  /** Connects upstream (a blackholed SYN waits for the cut to heal) and passes on what was held. */
  #flow (link: Link): void {
    if (this.#cut !== undefined || link.client.destroyed) return
    if (link.upstream === undefined) {
      const upstream = createConnection(this.#target)
      link.upstream = upstream
      upstream.on('data', (chunk) => {
        if (this.#cut !== undefined) link.toClient.push(chunk)
        else link.client.write(chunk)
      })
      upstream.on('error', () => { this.#drop(link) })
      upstream.on('close', () => { this.#drop(link) })
    }
    for (const chunk of link.toServer.splice(0)) link.upstream.write(chunk)
    for (const chunk of link.toClient.splice(0)) link.client.write(chunk)
  }

  #drop (link: Link): void {
    if (!this.#links.delete(link)) return
    link.client.resetAndDestroy()
    link.upstream?.resetAndDestroy()
  }
}
