/**
 * Which proxy, if any, a connection goes through: the `proxy` option, or
 * else the environment, read the way undici's `EnvHttpProxyAgent` reads it
 * (what Node and Bun users already set for `fetch`):
 *
 * - `ws:` uses `http_proxy` / `HTTP_PROXY`;
 * - `wss:` uses `https_proxy` / `HTTPS_PROXY`, and when neither is set,
 *   `http_proxy` / `HTTP_PROXY` (one proxy for both, as undici does);
 * - the lower-case variable wins when both spellings are set (undici, curl);
 *   a blank value is no proxy;
 * - `no_proxy` / `NO_PROXY` lists the hosts reached directly
 *   ({@link NoProxyList}).
 *
 * The environment is read each time a WebSocket is made, never at import, so
 * a program may set it late, and each connection sees it as it is then.
 * @packageDocumentation
 */
import process from 'node:process';
import { NoProxyList } from './proxy-bypass.js';
import { type ProxyEndpoint, proxyFromVariable } from './proxy-url.js';

/** Environment variables, as `process.env` holds them. */
export type Environment = Readonly<Record<string, string | undefined>>;

/** The port a `ws:` or `wss:` URL without one connects to. */
const DEFAULT_PORT: Readonly<Record<string, number>> = { 'ws:': 80, 'wss:': 443 };

/**
 * The proxy to reach `target` through, or `null` to connect directly.
 * @param target - the connection's `ws:` or `wss:` URL.
 * @param setting - the resolved `proxy` option: a proxy (always used,
 *   whatever `NO_PROXY` says), `false` (never), `undefined` (the environment's).
 * @param env - the environment; `process.env` as it is now.
 * @throws {TypeError} naming the variable, when the proxy variable that
 *   applies to `target` does not hold a valid `http:` proxy URL.
 */
export function selectProxy(
  target: URL,
  setting: ProxyEndpoint | false | undefined,
  env: Environment = process.env,
): ProxyEndpoint | null {
  if (setting !== undefined) return setting || null;
  const variable =
    (target.protocol === 'wss:' ? readVariable(env, 'https_proxy') : undefined) ??
    readVariable(env, 'http_proxy');
  if (variable === undefined) return null;
  // Checked before NO_PROXY is: a broken variable fails every connection
  // alike, not only those to hosts that happen to use it.
  const proxy = proxyFromVariable(variable.name, variable.value);
  const noProxy = readVariable(env, 'no_proxy');
  const port = target.port === '' ? DEFAULT_PORT[target.protocol]! : Number(target.port);
  if (noProxy && NoProxyList.parse(noProxy.value).matches(target.hostname, port)) return null;
  return proxy;
}

/**
 * The variable `name` (lower case) or its upper-case spelling, the lower-case
 * one first; `undefined` when neither is set, or the one set is blank.
 */
function readVariable(
  env: Environment,
  name: string,
): { readonly name: string; readonly value: string } | undefined {
  const spelling = env[name] !== undefined ? name : name.toUpperCase();
  const value = env[spelling];
  return value === undefined || value.trim() === '' ? undefined : { name: spelling, value };
}
