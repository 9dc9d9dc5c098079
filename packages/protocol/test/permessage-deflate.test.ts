import { describe, expect, test } from 'vitest';
import {
  type DeflateParams,
  HandshakeError,
  acceptDeflateOffer,
  acceptDeflateResponse,
  buildDeflateOffer,
  checkWindowBits,
  parseExtensions,
} from '@proj/protocol';

/** Parses a header value that must be well-formed. */
function ext(header: string) {
  const parsed = parseExtensions(header);
  if (!parsed) throw new Error(`malformed: ${header}`);
  return parsed;
}

const DEFAULTS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

describe('server: acceptDeflateOffer (RFC 7692 §5, §7)', () => {
  test('a bare offer is accepted with a bare response and the defaults', () => {
    expect(acceptDeflateOffer(ext('permessage-deflate'))).toEqual({
      params: DEFAULTS,
      response: 'permessage-deflate',
    });
  });

  test("Chrome's offer (client_max_window_bits without a value)", () => {
    expect(acceptDeflateOffer(ext('permessage-deflate; client_max_window_bits'))).toEqual({
      params: DEFAULTS,
      response: 'permessage-deflate',
    });
  });

  // Every combination of the four parameters in the offer, against a server
  // with no preferences of its own: each offered parameter is accepted.
  const names = [
    'server_no_context_takeover',
    'client_no_context_takeover',
    'server_max_window_bits',
    'client_max_window_bits',
  ] as const;
  const combos: [number, string][] = [];
  for (let mask = 0; mask < 16; mask++)
    combos.push([mask, names.filter((_, i) => mask & (1 << i)).join(',')]);
  test.each(combos)('offer combination %i (%s) is accepted as offered', (mask) => {
    const params: string[] = [];
    if (mask & 1) params.push('server_no_context_takeover');
    if (mask & 2) params.push('client_no_context_takeover');
    if (mask & 4) params.push('server_max_window_bits=10');
    if (mask & 8) params.push('client_max_window_bits=9');
    const offer = ['permessage-deflate', ...params].join('; ');
    const accepted = acceptDeflateOffer(ext(offer))!;
    expect(accepted.params).toEqual({
      serverNoContextTakeover: (mask & 1) !== 0,
      clientNoContextTakeover: (mask & 2) !== 0,
      serverMaxWindowBits: mask & 4 ? 10 : 15,
      clientMaxWindowBits: mask & 8 ? 9 : 15,
    });
    // The response carries exactly the offered parameters.
    expect(accepted.response).toBe(offer);
    // And the client that made this offer accepts that response.
    const config = {
      serverNoContextTakeover: (mask & 1) !== 0,
      clientNoContextTakeover: (mask & 2) !== 0,
      serverMaxWindowBits: mask & 4 ? 10 : undefined,
      clientMaxWindowBits: mask & 8 ? 9 : undefined,
    };
    expect(acceptDeflateResponse(ext(accepted.response), config)).toEqual(accepted.params);
  });

  test.each([8, 9, 10, 11, 12, 13, 14, 15])('server_max_window_bits=%i is honoured', (bits) => {
    const accepted = acceptDeflateOffer(ext(`permessage-deflate; server_max_window_bits=${bits}`));
    expect(accepted?.params.serverMaxWindowBits).toBe(bits);
    expect(accepted?.response).toBe(`permessage-deflate; server_max_window_bits=${bits}`);
  });

  test('server preferences: promise no context takeover, ask the client for none, limit windows', () => {
    const accepted = acceptDeflateOffer(ext('permessage-deflate; client_max_window_bits'), {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 12,
      clientMaxWindowBits: 11,
    });
    expect(accepted).toEqual({
      params: {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 12,
        clientMaxWindowBits: 11,
      },
      response:
        'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=11',
    });
  });

  test('an offered window smaller than the server limit wins; a larger one is lowered', () => {
    expect(
      acceptDeflateOffer(ext('permessage-deflate; server_max_window_bits=9'), {
        serverMaxWindowBits: 12,
      })?.params.serverMaxWindowBits,
    ).toBe(9);
    expect(
      acceptDeflateOffer(
        ext('permessage-deflate; server_max_window_bits=14; client_max_window_bits=14'),
        {
          serverMaxWindowBits: 12,
          clientMaxWindowBits: 10,
        },
      ),
    ).toMatchObject({
      params: { serverMaxWindowBits: 12, clientMaxWindowBits: 10 },
      response: 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=10',
    });
  });

  test('a client limit cannot be imposed on a client that did not offer client_max_window_bits', () => {
    // §7.1.2.2: the response MUST NOT carry it then; the offer is still accepted.
    expect(acceptDeflateOffer(ext('permessage-deflate'), { clientMaxWindowBits: 9 })).toEqual({
      params: DEFAULTS,
      response: 'permessage-deflate',
    });
  });

  test.each([
    ['an unknown parameter', 'permessage-deflate; foo'],
    [
      'a duplicate parameter',
      'permessage-deflate; client_no_context_takeover; client_no_context_takeover',
    ],
    [
      'a duplicate window size',
      'permessage-deflate; server_max_window_bits=10; server_max_window_bits=10',
    ],
    ['a value on server_no_context_takeover', 'permessage-deflate; server_no_context_takeover=1'],
    ['a value on client_no_context_takeover', 'permessage-deflate; client_no_context_takeover=x'],
    ['server_max_window_bits without a value', 'permessage-deflate; server_max_window_bits'],
    ['server_max_window_bits=7', 'permessage-deflate; server_max_window_bits=7'],
    ['server_max_window_bits=16', 'permessage-deflate; server_max_window_bits=16'],
    ['a leading zero', 'permessage-deflate; server_max_window_bits=09'],
    ['client_max_window_bits=abc', 'permessage-deflate; client_max_window_bits=abc'],
    ['client_max_window_bits=0', 'permessage-deflate; client_max_window_bits=0'],
  ])('%s: the offer is declined (§5), no compression', (_, header) => {
    expect(acceptDeflateOffer(ext(header))).toBeNull();
  });

  test('a quoted value is the same value (RFC 6455 §9.1)', () => {
    expect(
      acceptDeflateOffer(ext('permessage-deflate; server_max_window_bits="10"'))?.params
        .serverMaxWindowBits,
    ).toBe(10);
  });

  test('several offers: the first acceptable one in preference order', () => {
    const offers = ext(
      'x-webkit-deflate-frame, permessage-deflate; bogus, permessage-deflate; server_max_window_bits=10, permessage-deflate',
    );
    expect(acceptDeflateOffer(offers)?.params.serverMaxWindowBits).toBe(10);
  });

  test('no permessage-deflate offer, or none acceptable: null (fallback to no compression)', () => {
    expect(acceptDeflateOffer([])).toBeNull();
    expect(acceptDeflateOffer(ext('x-foo; bar=1'))).toBeNull();
    expect(acceptDeflateOffer(ext('permessage-deflate; a, permessage-deflate; b'))).toBeNull();
  });

  test('the extension name and parameter names are case-insensitive', () => {
    expect(
      acceptDeflateOffer(ext('PerMessage-Deflate; Server_No_Context_Takeover'))?.params
        .serverNoContextTakeover,
    ).toBe(true);
  });
});

describe('client: buildDeflateOffer', () => {
  test('by default: client_max_window_bits without a value', () => {
    expect(buildDeflateOffer()).toBe('permessage-deflate; client_max_window_bits');
  });

  test('every preference', () => {
    expect(
      buildDeflateOffer({
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 9,
      }),
    ).toBe(
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9',
    );
  });

  test.each([7, 16, 10.5])('window size %j is a RangeError', (bits) => {
    expect(() => buildDeflateOffer({ serverMaxWindowBits: bits })).toThrow(RangeError);
    expect(() => buildDeflateOffer({ clientMaxWindowBits: bits })).toThrow(RangeError);
    expect(() => checkWindowBits('x', bits)).toThrow(/"x" option must be an integer from 8 to 15/);
  });

  test('a window size that is not a number is a TypeError, as every option of the wrong type', () => {
    expect(() => buildDeflateOffer({ serverMaxWindowBits: '10' as never })).toThrow(TypeError);
    expect(() => checkWindowBits('x', '10')).toThrow(
      'The "x" option must be an integer from 8 to 15, got "10"',
    );
  });
});

describe('client: acceptDeflateResponse (RFC 7692 §5)', () => {
  test('no permessage-deflate element: declined, null', () => {
    expect(acceptDeflateResponse([])).toBeNull();
    expect(acceptDeflateResponse(ext('x-other'))).toBeNull();
  });

  test('a bare response: the defaults', () => {
    expect(acceptDeflateResponse(ext('permessage-deflate'))).toEqual(DEFAULTS);
  });

  test('the server may promise no context takeover, limit itself, and limit the client', () => {
    expect(
      acceptDeflateResponse(
        ext(
          'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=8',
        ),
      ),
    ).toEqual({
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 8,
    });
  });

  test('our own promises hold without being echoed', () => {
    expect(
      acceptDeflateResponse(ext('permessage-deflate'), {
        clientNoContextTakeover: true,
        clientMaxWindowBits: 10,
      }),
    ).toEqual({ ...DEFAULTS, clientNoContextTakeover: true, clientMaxWindowBits: 10 });
  });

  const failures: [string, string, Parameters<typeof acceptDeflateResponse>[1]][] = [
    ['accepted twice', 'permessage-deflate, permessage-deflate', {}],
    ['an unknown parameter', 'permessage-deflate; foo=1', {}],
    [
      'a duplicate parameter',
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
      {},
    ],
    ['client_max_window_bits without a value', 'permessage-deflate; client_max_window_bits', {}],
    ['a window out of range', 'permessage-deflate; server_max_window_bits=16', {}],
    [
      'a server window larger than offered',
      'permessage-deflate; server_max_window_bits=12',
      { serverMaxWindowBits: 10 },
    ],
    ['no server window when one was asked for', 'permessage-deflate', { serverMaxWindowBits: 10 }],
    [
      'context takeover kept though asked not to',
      'permessage-deflate',
      { serverNoContextTakeover: true },
    ],
    [
      'a client window larger than our limit',
      'permessage-deflate; client_max_window_bits=12',
      { clientMaxWindowBits: 10 },
    ],
  ];
  test.each(failures)('%s: HandshakeError WS_ERR_HANDSHAKE_EXTENSIONS', (_, header, config) => {
    let error: unknown;
    try {
      acceptDeflateResponse(ext(header), config);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).code).toBe('WS_ERR_HANDSHAKE_EXTENSIONS');
    expect((error as HandshakeError).closeCode).toBe(1006);
  });
});
