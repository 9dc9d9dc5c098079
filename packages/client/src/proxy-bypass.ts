/**
 * `NO_PROXY`: the hosts a connection reaches directly although the
 * environment names a proxy. The rules are those of undici's
 * `EnvHttpProxyAgent` and curl, written out here (the README's "Proxies"
 * repeats them):
 *
 * - entries are separated by commas and/or whitespace; empty ones are skipped;
 * - `*` matches every host;
 * - a host name matches itself and every name below it: `example.com`,
 *   `.example.com` and `*.example.com` all match `example.com` and
 *   `a.b.example.com`, never `badexample.com`; compared without case and
 *   without a trailing dot, international names in their ASCII form;
 * - an IP address matches that address (IPv6 in any notation, brackets
 *   optional); `addr/bits` (CIDR, as curl takes it) matches a whole subnet;
 * - `:port` after a host name or address (`[v6]:port` for IPv6) restricts the
 *   entry to that port; without it, every port matches;
 * - nothing is resolved: a host name never matches an address entry, nor an
 *   address a host name entry (`localhost` is not `127.0.0.1`);
 * - an entry that is none of these never matches.
 * @packageDocumentation
 */
import { BlockList, isIP } from 'node:net';
import { domainToASCII } from 'node:url';

/** One entry of the list. */
type Entry =
  | { readonly kind: 'all' }
  /** A host name, and every name below it. */
  | { readonly kind: 'name'; readonly name: string; readonly port: number }
  /** An address or a subnet. */
  | { readonly kind: 'address'; readonly addresses: BlockList; readonly port: number };

/**
 * A parsed `NO_PROXY` value: which targets go around the proxy.
 *
 * ```ts
 * const list = NoProxyList.parse('localhost, .internal.example, 10.0.0.0/8, [::1]:8080');
 * list.matches('feed.internal.example', 443); // true
 * ```
 */
export class NoProxyList {
  readonly #entries: readonly Entry[];

  private constructor(entries: readonly Entry[]) {
    this.#entries = entries;
  }

  /** Parses a `NO_PROXY` value; never throws (an entry it cannot read never matches). */
  static parse(value: string): NoProxyList {
    const entries: Entry[] = [];
    for (const text of value.split(/[\s,]+/)) {
      const entry = parseEntry(text);
      if (entry) entries.push(entry);
    }
    return new NoProxyList(entries);
  }

  /**
   * Whether a connection to `host`:`port` goes around the proxy.
   * @param host - the URL's host name (an IPv6 address with or without brackets).
   * @param port - the port connected to: the URL's, or the scheme's default.
   */
  matches(host: string, port: number): boolean {
    const bare = host.replace(/^\[(.*)\]$/, '$1');
    const family = isIP(bare);
    const name = family === 0 ? normalizeName(bare) : '';
    return this.#entries.some((entry) => {
      if (entry.kind === 'all') return true;
      if (entry.port !== 0 && entry.port !== port) return false;
      if (entry.kind === 'address') {
        return family !== 0 && entry.addresses.check(bare, family === 4 ? 'ipv4' : 'ipv6');
      }
      return family === 0 && (name === entry.name || name.endsWith(`.${entry.name}`));
    });
  }
}

/** One entry, or `null` for an empty or unreadable one. */
function parseEntry(text: string): Entry | null {
  if (text === '') return null;
  if (text === '*') return { kind: 'all' };
  // An IPv6 entry with a port must be bracketed, "[::1]:8080": a bare "::1"
  // would otherwise read as host ":" and port 1.
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return addressEntry(bracketed[1]!, bracketed[2]);
  const subnet = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (subnet) return subnetEntry(subnet[1]!, Number(subnet[2]));
  if (isIP(text) !== 0) return addressEntry(text, undefined);
  const withPort = /^([^:]+):(\d+)$/.exec(text);
  const host = withPort ? withPort[1]! : text;
  const port = withPort ? readPort(withPort[2]!) : 0;
  if (port === null) return null;
  if (isIP(host) !== 0) return addressEntry(host, withPort?.[2]);
  if (host.includes(':')) return null;
  // "*.example.com" and ".example.com" mean what "example.com" means.
  const name = normalizeName(host.replace(/^\*?\./, ''));
  return name === '' ? null : { kind: 'name', name, port };
}

function addressEntry(address: string, portText: string | undefined): Entry | null {
  const family = isIP(address);
  const port = portText === undefined ? 0 : readPort(portText);
  if (family === 0 || port === null) return null;
  const addresses = new BlockList();
  addresses.addAddress(address, family === 4 ? 'ipv4' : 'ipv6');
  return { kind: 'address', addresses, port };
}

function subnetEntry(address: string, bits: number): Entry | null {
  const family = isIP(address);
  if (family === 0 || bits > (family === 4 ? 32 : 128)) return null;
  const addresses = new BlockList();
  addresses.addSubnet(address, bits, family === 4 ? 'ipv4' : 'ipv6');
  return { kind: 'address', addresses, port: 0 };
}

/** A port from 1 to 65535, or `null`. */
function readPort(text: string): number | null {
  const port = Number(text);
  return port >= 1 && port <= 65_535 ? port : null;
}

/**
 * A host name as the URL parser gives it: lower case, international names in
 * their ASCII (punycode) form, without the trailing dot of a fully qualified
 * name.
 */
function normalizeName(name: string): string {
  const trimmed = name.replace(/\.+$/, '');
  return domainToASCII(trimmed) || trimmed.toLowerCase();
}
