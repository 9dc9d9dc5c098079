/**
 * The command line, parsed and checked: every mistake is a {@link UsageError}
 * naming the option and the value, before anything connects or listens.
 * @packageDocumentation
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** The commands `proj-ws` has. */
export type Command = 'connect' | 'listen';

/** A command line that cannot run (exit code 2). */
export class UsageError extends Error {
  /** The command whose usage to print, if the mistake was within one. */
  readonly command: Command | undefined;

  constructor(message: string, command?: Command) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

/** `proj-ws connect`, checked. */
export interface ConnectArgs {
  readonly command: 'connect';
  readonly url: string;
  /** Request headers, names as first given; a repeated name (any case) collects its values. */
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly subprotocols: readonly string[];
  readonly origin: string | undefined;
  readonly deflate: boolean;
  /** `--execute` messages; `undefined` for the interactive mode (stdin lines). */
  readonly execute: readonly string[] | undefined;
  /** `--wait`, in milliseconds. */
  readonly waitMs: number;
  readonly binary: boolean;
  readonly quiet: boolean;
}

/** How `listen` answers. */
export type ListenMode = 'echo' | 'print';

/** `proj-ws listen`, checked. */
export interface ListenArgs {
  readonly command: 'listen';
  readonly port: number;
  readonly host: string;
  readonly mode: ListenMode;
  readonly subprotocols: readonly string[];
  readonly deflate: boolean;
  readonly binary: boolean;
  readonly quiet: boolean;
}

/** What the command line asks for. */
export type Invocation =
  | ConnectArgs
  | ListenArgs
  | { readonly command: 'help'; readonly topic: Command | undefined }
  | { readonly command: 'version' };

/** Default of `--wait`, in seconds: long enough for a reply over the internet. */
export const DEFAULT_WAIT_SECONDS = 2;

/** Default of `--host`: only this machine can connect unless asked otherwise. */
export const DEFAULT_HOST = '127.0.0.1';

/** The longest `--wait`: Node's timers take at most 2^31 - 1 ms. */
const MAX_WAIT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

const CONNECT_OPTIONS = {
  header: { type: 'string', short: 'H', multiple: true },
  subprotocol: { type: 'string', short: 's', multiple: true },
  origin: { type: 'string', short: 'o' },
  deflate: { type: 'boolean' },
  execute: { type: 'string', short: 'x', multiple: true },
  wait: { type: 'string', short: 'w' },
  binary: { type: 'boolean', short: 'b' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const LISTEN_OPTIONS = {
  host: { type: 'string' },
  mode: { type: 'string', short: 'm' },
  subprotocol: { type: 'string', short: 's', multiple: true },
  deflate: { type: 'boolean' },
  binary: { type: 'boolean', short: 'b' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

/**
 * Parses `argv` (without `node` and the script).
 * @throws {UsageError} for anything that cannot run.
 */
export function parseInvocation(argv: readonly string[]): Invocation {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError('a command is required');
  if (first === '-h' || first === '--help') return { command: 'help', topic: undefined };
  if (first === '-v' || first === '--version') return { command: 'version' };
  if (first === 'connect' || first === 'listen') {
    if (asksForHelp(rest)) return { command: 'help', topic: first };
    return first === 'connect' ? parseConnect(rest) : parseListen(rest);
  }
  if (first.startsWith('-')) throw new UsageError(`unknown option '${first}'`);
  throw new UsageError(`unknown command '${first}' (the commands are connect and listen)`);
}

/** `--help` anywhere before `--` wins over every other mistake on the line. */
function asksForHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === '-h' || arg === '--help');
}

function parseConnect(args: readonly string[]): ConnectArgs {
  const { values, positionals } = parse(args, CONNECT_OPTIONS, 'connect');
  const url = onePositional(positionals, '<url>', 'connect');
  if (values.wait !== undefined && values.execute === undefined) {
    throw new UsageError('--wait applies only with --execute', 'connect');
  }
  return {
    command: 'connect',
    url,
    headers: collectHeaders(values.header ?? []),
    subprotocols: values.subprotocol ?? [],
    origin: values.origin,
    deflate: values.deflate ?? false,
    execute: values.execute,
    waitMs: parseWait(values.wait) * 1000,
    binary: values.binary ?? false,
    quiet: values.quiet ?? false,
  };
}

function parseListen(args: readonly string[]): ListenArgs {
  const { values, positionals } = parse(args, LISTEN_OPTIONS, 'listen');
  const port = parsePort(onePositional(positionals, '<port>', 'listen'));
  const mode = values.mode ?? 'echo';
  if (mode !== 'echo' && mode !== 'print') {
    throw new UsageError(`--mode must be echo or print, got '${mode}'`, 'listen');
  }
  if (values.host === '') throw new UsageError('--host must not be empty', 'listen');
  if (values.binary && mode !== 'print') {
    throw new UsageError('--binary applies only with --mode print', 'listen');
  }
  return {
    command: 'listen',
    port,
    host: values.host ?? DEFAULT_HOST,
    mode,
    subprotocols: values.subprotocol ?? [],
    deflate: values.deflate ?? false,
    binary: values.binary ?? false,
    quiet: values.quiet ?? false,
  };
}

/** `node:util` parseArgs, its errors turned into usage errors. */
function parse<const Options extends NonNullable<ParseArgsConfig['options']>>(
  args: readonly string[],
  options: Options,
  command: Command,
) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      throw new UsageError(parseArgsMessage(code, (error as Error).message), command);
    }
    throw error;
  }
}

/**
 * Node's wording, shortened where it is long: for an unknown option it goes
 * on about positionals that start with a dash, which is rarely the mistake.
 */
function parseArgsMessage(code: string, message: string): string {
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const option = /'([^']+)'/.exec(message)?.[1];
    if (option !== undefined) return `unknown option '${option}'`;
  }
  return message;
}

function onePositional(positionals: readonly string[], name: string, command: Command): string {
  const [value, extra] = positionals;
  if (value === undefined) throw new UsageError(`missing ${name}`, command);
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`, command);
  return value;
}

/**
 * `--header` values (`"Name: value"`) as the client's `headers` option: a
 * name given twice, in any case, sends both values.
 * @throws {UsageError} for a value without a name and a colon.
 */
export function collectHeaders(values: readonly string[]): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  const spelling = new Map<string, string>();
  for (const text of values) {
    const colon = text.indexOf(':');
    const name = colon === -1 ? '' : text.slice(0, colon).trim();
    if (name === '') {
      throw new UsageError(`--header must look like "Name: value", got '${text}'`, 'connect');
    }
    const value = text.slice(colon + 1).trim();
    const key = spelling.get(name.toLowerCase()) ?? name;
    spelling.set(name.toLowerCase(), key);
    const previous = headers[key];
    if (previous === undefined) headers[key] = value;
    else headers[key] = [...(typeof previous === 'string' ? [previous] : previous), value];
  }
  return headers;
}

/** `--wait`: seconds, fractions allowed. */
export function parseWait(value: string | undefined): number {
  if (value === undefined) return DEFAULT_WAIT_SECONDS;
  const seconds = value.trim() === '' ? NaN : Number(value);
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > MAX_WAIT_SECONDS) {
    throw new UsageError(
      `--wait must be a number of seconds from 0 to ${MAX_WAIT_SECONDS}, got '${value}'`,
      'connect',
    );
  }
  return seconds;
}

/** `listen`'s port: an integer from 0 (any free port) to 65535. */
export function parsePort(value: string): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port <= 65535)) {
    throw new UsageError(`<port> must be an integer from 0 to 65535, got '${value}'`, 'listen');
  }
  return port;
}
