/**
 * Autobahn|Testsuite sections 12 and 13 (permessage-deflate, RFC 7692) as a
 * table, after `autobahntestsuite/case/case12_x_x.py`: every case negotiates
 * permessage-deflate, then sends messages of one size, one at a time, each cut
 * from a test data set at a running offset (wrapping around), and expects every
 * one echoed as sent.
 *
 * - 12.1-12.5: one subsection per test data set, Autobahn's default offer and
 *   a server that accepts it as it is.
 * - 13.1-13.7: the JSON data set with seven offer/accept pairs of
 *   no_context_takeover and max_window_bits.
 *
 * Each subsection has the same 18 rows (`MSG_SIZES`): payload size, count and
 * auto-fragment size (0: one frame per message).
 */

/** Autobahn's `MSG_SIZES`: [payload bytes, message count, auto-fragment size]. */
export const MSG_SIZES: readonly (readonly [number, number, number])[] = [
  [16, 1000, 0],
  [64, 1000, 0],
  [256, 1000, 0],
  [1024, 1000, 0],
  [4096, 1000, 0],
  [8192, 1000, 0],
  [16384, 1000, 0],
  [32768, 1000, 0],
  [65536, 1000, 0],
  [131072, 1000, 0],
  [8192, 1000, 256],
  [16384, 1000, 256],
  [32768, 1000, 256],
  [65536, 1000, 256],
  [131072, 1000, 256],
  [131072, 1000, 1024],
  [131072, 1000, 4096],
  [131072, 1000, 32768],
];

/**
 * Autobahn sends 1000 messages in every case: 906 MiB per subsection, 11 GiB
 * for sections 12 and 13, far beyond a test run of a minute. We keep every
 * case and its message size but cap the bytes a case sends at this budget
 * (at least {@link MIN_COUNT} messages): the 16-256 byte rows keep their 1000
 * messages (hundreds of fresh compressor states and round trips); 128 KiB
 * messages go 4 per case, which still spans several 32 KiB windows per message
 * and, with context takeover, a context carried across messages.
 */
export const BYTES_PER_CASE = 512 * 1024;
/** Fewest messages per case: enough to carry (or reset) a context between messages. */
export const MIN_COUNT = 4;
/**
 * Messages of 16-256 bytes: Autobahn's 1000 would be 1000 sequential round
 * trips through four zlib jobs each (about 0.3 ms on loopback); 250 keep the
 * point (many tiny compressed messages, context carried across them) in a
 * quarter of the time.
 */
export const SMALL_COUNT = 250;

/** A permessage-deflate offer, as Autobahn's `PerMessageDeflateOffer` requests it. */
export interface DeflateOffer {
  /** `server_no_context_takeover` (Autobahn's `requestNoContextTakeover`). */
  readonly serverNoContextTakeover?: boolean;
  /** `server_max_window_bits=N` (Autobahn's `requestMaxWindowBits`, 0: not sent). */
  readonly serverMaxWindowBits?: number;
}

/** What the server asks of the client on acceptance (`PerMessageDeflateOfferAccept`). */
export interface DeflateAccept {
  /** `client_no_context_takeover` in the response (`requestNoContextTakeover`). */
  readonly clientNoContextTakeover?: boolean;
  /** `client_max_window_bits=N` in the response (`requestMaxWindowBits`). */
  readonly clientMaxWindowBits?: number;
}

/** The settled parameters of a connection; window sizes default to 15. */
export interface NegotiatedDeflate {
  readonly serverNoContextTakeover: boolean;
  readonly clientNoContextTakeover: boolean;
  readonly serverMaxWindowBits: number;
  readonly clientMaxWindowBits: number;
}

/** A test data set (Autobahn's `WS_COMPRESSION_TESTDATA`), generated here. */
export interface TestData {
  readonly key: string;
  readonly description: string;
  /** Sent as binary messages (else as text; the data is then ASCII). */
  readonly binary: boolean;
  /** Size of Autobahn's file; ours has the same size. */
  readonly size: number;
}

export interface CompressionCase {
  /** Autobahn id, "12.1.1" .. "13.7.18". */
  readonly id: string;
  readonly description: string;
  readonly data: TestData;
  /** Payload size of every message. */
  readonly size: number;
  /** Messages sent here (Autobahn: always 1000). */
  readonly count: number;
  /** Frame size of a message cut into fragments; 0: one frame. */
  readonly fragmentSize: number;
  /** The offers the client makes, first preferred (13.7 has three). */
  readonly offers: readonly DeflateOffer[];
  /** What the server asks for in its response. */
  readonly accept: DeflateAccept;
  /** The parameters both ends must settle on. */
  readonly expected: NegotiatedDeflate;
  /** How long the case may take. */
  readonly timeoutMs: number;
}

/**
 * The five data sets in the order Autobahn numbers them (12.1 is the JSON
 * file: Autobahn iterates a Python 2 dict). Autobahn ships the files; we
 * generate data of the same kind and size (see `testData()`).
 */
export const TEST_DATA: readonly TestData[] = [
  { key: 'json_data1', description: 'Large JSON data file', binary: false, size: 194237 },
  { key: 'lena512', description: 'Lena Picture, Bitmap 512x512 bw', binary: true, size: 263222 },
  {
    key: 'gutenberg_faust',
    description: "Human readable text, Goethe's Faust I (German)",
    binary: true,
    size: 222218,
  },
  { key: 'html_data1', description: 'Large HTML file', binary: false, size: 83564 },
  { key: 'ooms', description: 'A larger PDF', binary: true, size: 1042328 },
];

/** Section 13's offer / accept pairs (Autobahn's `DEFLATE_PARAMS`, accept1..accept7). */
export const DEFLATE_PARAMS: readonly {
  readonly offers: readonly DeflateOffer[];
  readonly accept: DeflateAccept;
}[] = [
  { offers: [{}], accept: {} },
  { offers: [{ serverNoContextTakeover: true }], accept: { clientNoContextTakeover: true } },
  { offers: [{ serverMaxWindowBits: 8 }], accept: { clientMaxWindowBits: 8 } },
  { offers: [{ serverMaxWindowBits: 15 }], accept: { clientMaxWindowBits: 15 } },
  {
    offers: [{ serverNoContextTakeover: true, serverMaxWindowBits: 8 }],
    accept: { clientNoContextTakeover: true, clientMaxWindowBits: 8 },
  },
  {
    offers: [{ serverNoContextTakeover: true, serverMaxWindowBits: 15 }],
    accept: { clientNoContextTakeover: true, clientMaxWindowBits: 15 },
  },
  // accept7 tries accept5, accept2, accept1 on the offers in turn: accept5
  // takes the first offer.
  {
    offers: [
      { serverNoContextTakeover: true, serverMaxWindowBits: 8 },
      { serverNoContextTakeover: true },
      {},
    ],
    accept: { clientNoContextTakeover: true, clientMaxWindowBits: 8 },
  },
];

/** The result of accepting `offer` with `accept`, as RFC 7692 settles it. */
export function negotiated(offer: DeflateOffer, accept: DeflateAccept): NegotiatedDeflate {
  return {
    serverNoContextTakeover: offer.serverNoContextTakeover === true,
    clientNoContextTakeover: accept.clientNoContextTakeover === true,
    serverMaxWindowBits: offer.serverMaxWindowBits ?? 15,
    clientMaxWindowBits: accept.clientMaxWindowBits ?? 15,
  };
}

function messageCount(size: number): number {
  if (size <= 256) return SMALL_COUNT;
  return Math.min(1000, Math.max(MIN_COUNT, Math.floor(BYTES_PER_CASE / size)));
}

function describeOffers(offers: readonly DeflateOffer[]): string {
  const list = offers.map(
    (o) =>
      `(${o.serverNoContextTakeover === true ? 'True' : 'False'}, ${o.serverMaxWindowBits ?? 0})`,
  );
  return `client offers (requestNoContextTakeover, requestMaxWindowBits): [${list.join(', ')}]`;
}

function makeCases(
  section: number,
  subsection: number,
  data: TestData,
  offers: readonly DeflateOffer[],
  accept: DeflateAccept,
): CompressionCase[] {
  const offerText =
    section === 12 ? 'Use default permessage-deflate offer.' : describeOffers(offers);
  return MSG_SIZES.map(([size, autobahnCount, fragmentSize], i) => {
    const count = messageCount(size);
    return {
      id: `${section}.${subsection}.${i + 1}`,
      description:
        `Send ${count} (Autobahn: ${autobahnCount}) compressed messages each of payload size ` +
        `${size}, auto-fragment to ${fragmentSize} octets. ${offerText}`,
      data,
      size,
      count,
      fragmentSize,
      offers,
      accept,
      expected: negotiated(offers[0]!, accept),
      timeoutMs: 20_000,
    };
  });
}

/** Section 12: 5 data sets x 18 rows, default offer accepted as is. */
export const CASES_12: readonly CompressionCase[] = TEST_DATA.flatMap((data, j) =>
  makeCases(12, j + 1, data, [{}], {}),
);

/** Section 13: 7 offer/accept pairs x 18 rows, on the JSON data set. */
export const CASES_13: readonly CompressionCase[] = DEFLATE_PARAMS.flatMap((params, j) =>
  makeCases(13, j + 1, TEST_DATA[0]!, params.offers, params.accept),
);

export const COMPRESSION_CASES: readonly CompressionCase[] = [...CASES_12, ...CASES_13];

/** Section titles, for summaries. */
export const COMPRESSION_SECTIONS: Record<string, string> = {
  '12': 'WebSocket Compression (different payloads)',
  '13': 'WebSocket Compression (different parameters)',
};

// ---------------------------------------------------------------------------
// Test data. Deterministic (a fixed-seed xorshift), generated once per data set.

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

const WORDS = (
  'der die das und ist nicht ich du ein zu mit sich auf dem den wie was so doch mir ' +
  'mein herz welt geist natur wissen himmel erde nacht tag leben liebe Faust Gretchen ' +
  'Mephistopheles Wagner Schüler Hexe Studierzimmer Kerker Straße Garten Dom Brunnen ' +
  'Gefühl schön hör müssen möcht Höll Glück über für wär Bäume Frühling Flamme Tränen'
).split(' ');

function repeatTo(size: number, next: () => string): Buffer {
  const parts: string[] = [];
  let length = 0;
  while (length < size) {
    const part = next();
    parts.push(part);
    length += Buffer.byteLength(part);
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

function generate(data: TestData): Buffer {
  const random = rng(data.size);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  switch (data.key) {
    case 'json_data1': {
      let id = 0;
      const record = (): string =>
        JSON.stringify({
          id: id++,
          guid: Math.floor(random() * 0xffffffff).toString(16),
          isActive: random() < 0.5,
          balance: `$${(random() * 4000).toFixed(2)}`,
          age: 20 + Math.floor(random() * 40),
          name: `${pick(['Ada', 'Grace', 'Linus', 'Ken', 'Barbara'])} ${pick(['Lovelace', 'Hopper', 'Torvalds', 'Thompson', 'Liskov'])}`,
          tags: [pick(['et', 'sit', 'amet', 'dolor']), pick(['lorem', 'ipsum', 'minim'])],
          latitude: random() * 180 - 90,
        }) + ',\n';
      return repeatTo(data.size, record);
    }
    case 'html_data1': {
      const line = (): string =>
        `<tr class="${pick(['odd', 'even'])}"><td><a href="/item/${Math.floor(random() * 10000)}">` +
        `${pick(WORDS.filter((w) => /^[a-z]+$/i.test(w)))}</a></td><td>${(random() * 100).toFixed(1)}</td></tr>\n`;
      return repeatTo(data.size, line);
    }
    case 'gutenberg_faust': {
      const line = (): string => {
        const words = Array.from({ length: 4 + Math.floor(random() * 8) }, () => pick(WORDS));
        return `${words.join(' ')}${pick([',', '.', '!', '?', ';'])}\n`;
      };
      return repeatTo(data.size, line);
    }
    case 'lena512': {
      // A 8-bit grey BMP: 54-byte header, 256-entry palette, 512x512 pixels
      // of smooth shapes plus a little noise.
      const out = Buffer.alloc(data.size);
      out.write('BM', 0, 'latin1');
      out.writeUInt32LE(data.size, 2);
      out.writeUInt32LE(54 + 1024, 10);
      out.writeUInt32LE(40, 14);
      out.writeInt32LE(512, 18);
      out.writeInt32LE(512, 22);
      out.writeUInt16LE(1, 26);
      out.writeUInt16LE(8, 28);
      for (let i = 0; i < 256; i++) out.writeUInt32LE(i * 0x010101, 54 + 4 * i);
      for (let y = 0; y < 512; y++) {
        for (let x = 0; x < 512; x++) {
          const v = 128 + 60 * Math.sin(x / 37) * Math.cos(y / 23) + 30 * Math.sin((x + y) / 91);
          out[1078 + y * 512 + x] = Math.max(0, Math.min(255, Math.round(v + random() * 12)));
        }
      }
      return out;
    }
    default: {
      // A PDF: text objects between mostly incompressible (already compressed) streams.
      const out = Buffer.alloc(data.size);
      let offset = 0;
      let n = 1;
      while (offset < data.size) {
        offset += out.write(
          `${n++} 0 obj\n<< /Length 4096 /Filter /FlateDecode >>\nstream\n`,
          offset,
          'latin1',
        );
        for (let end = Math.min(data.size, offset + 4096); offset < end; offset++) {
          out[offset] = Math.floor(random() * 256);
        }
        if (offset < data.size) offset += out.write('\nendstream\nendobj\n', offset, 'latin1');
      }
      return out;
    }
  }
}

const generated = new Map<string, Buffer>();

/** The bytes of a data set (ASCII for the text sets). */
export function testData(data: TestData): Buffer {
  let bytes = generated.get(data.key);
  if (!bytes) {
    bytes = generate(data);
    generated.set(data.key, bytes);
  }
  return bytes;
}

/**
 * The payloads of a case, as Autobahn's `sendOne` cuts them: `size` bytes from
 * a running offset into the data, wrapping around at its end.
 */
export function* payloads(testCase: CompressionCase): Generator<Buffer> {
  const bytes = testData(testCase.data);
  let offset = 0;
  for (let i = 0; i < testCase.count; i++) {
    const end = (offset + testCase.size) % bytes.length;
    yield end > offset
      ? bytes.subarray(offset, end)
      : Buffer.concat([bytes.subarray(offset), bytes.subarray(0, end)]);
    offset = end;
  }
}
