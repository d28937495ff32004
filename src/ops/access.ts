// Who may read the operator's pages. Behind i2pd every visitor arrives from loopback, so an
// address check alone protects nothing on a port an i2pd tunnel forwards: i2pd's HTTP server
// tunnels add X-I2P-DestHash / X-I2P-DestB64 / X-I2P-DestB32 to every request they forward
// (and drop those a client sends), so a request carrying one came through I2P and is refused.
// Then the client address must be in the allow list (net/allow-list.ts). docs/metrics.md, "Access".

/** The headers i2pd's HTTP server tunnels add to each request (lower case, as node gives them). */
export const I2P_HEADERS = ['x-i2p-desthash', 'x-i2p-destb64', 'x-i2p-destb32'] as const;

/** True when a request came through an i2pd HTTP server tunnel. */
export function viaI2p(headers: Readonly<Record<string, string | string[] | undefined>>): boolean {
  return I2P_HEADERS.some((h) => headers[h] !== undefined);
}
