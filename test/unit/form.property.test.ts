import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../lambda/oauth/errors';
import { MAX_FORM_BYTES, parseForm } from '../../lambda/oauth/form';

/**
 * Property-based tests of the form parser (issue 5): whatever bytes and content type arrive, parseForm
 * either returns the parameters a WHATWG form encoder would have produced, or throws InvalidRequestError.
 */
const FORM = 'application/x-www-form-urlencoded';
const RUNS = { numRuns: 300 };
const utf8 = new TextEncoder();
/** The oracle decoder: WHATWG "UTF-8 decode without BOM", strict. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const parse = (body: Uint8Array | string, ...contentType: [string | undefined] | []) =>
  parseForm(contentType.length === 0 ? FORM : contentType[0], typeof body === 'string' ? utf8.encode(body) : body);

/** Runs `fn` and returns what it threw (undefined when it returned). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error;
  }
}

function expectInvalidRequest(fn: () => unknown, description?: string): void {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(InvalidRequestError);
  expect((error as InvalidRequestError).code).toBe('invalid_request');
  expect((error as InvalidRequestError).status).toBe(400);
  if (description !== undefined) expect((error as InvalidRequestError).description).toBe(description);
}

/** Any Unicode scalar value (no lone surrogates: those cannot be sent as UTF-8 at all). */
const text = (minLength: number, maxLength: number) => fc.string({ unit: 'binary', minLength, maxLength });
/** Mostly printable, with the characters form encoding treats specially over-represented. */
const specialText = (minLength: number, maxLength: number) =>
  fc
    .array(
      fc.oneof(fc.constantFrom('&', '=', '+', '%', ' ', '%41', '\uFEFF', 'é', '€', '😀', '\u0000', '\n'), text(1, 3)),
      {
        minLength,
        maxLength,
      },
    )
    .map((parts) => parts.join(''));
const component = fc.oneof(text(1, 24), specialText(1, 8));

/** Distinct non-empty names, each with a non-empty value. */
const formMap = fc
  .uniqueArray(fc.tuple(component, component), { selector: ([name]) => name, maxLength: 12 })
  .map((entries) => new Map(entries));

/** Every byte percent-encoded, in upper or lower case hex: a legal but unusual spelling. */
const percentAll = (value: string, lower: boolean) =>
  [...utf8.encode(value)]
    .map((byte) => `%${lower ? byte.toString(16).padStart(2, '0') : byte.toString(16).padStart(2, '0').toUpperCase()}`)
    .join('');

const HEX = new Set('0123456789abcdefABCDEF');

/** The parser echoes a name in its error description only when it is short and plain. */
const safeName = (name: string) => (/^[A-Za-z0-9_.-]{1,40}$/.test(name) ? name : 'a parameter');

/** Known inputs that once broke a property, replayed on every run whatever the random seed. */
const BOM_NAME: [Map<string, string>] = [new Map([['\uFEFF', 'x']])];
const BOM_VALUE: [Map<string, string>] = [new Map([['password', '\uFEFFsecret']])];

describe('parseForm properties', () => {
  it('round-trips any map of distinct non-empty names and values encoded with URLSearchParams', () => {
    fc.assert(
      fc.property(formMap, (params) => {
        const body = new URLSearchParams([...params]).toString();
        expect(parse(body)).toEqual(params);
      }),
      { ...RUNS, examples: [BOM_NAME, BOM_VALUE] },
    );
  });

  it('round-trips the same maps encoded with encodeURIComponent, with spaces as %20 or +', () => {
    fc.assert(
      fc.property(formMap, fc.boolean(), fc.boolean(), (params, plusForSpace, ampersandsAround) => {
        const encode = (value: string) =>
          plusForSpace ? encodeURIComponent(value).replace(/%20/g, '+') : encodeURIComponent(value);
        const pairs = [...params].map(([name, value]) => `${encode(name)}=${encode(value)}`);
        const body = ampersandsAround ? `&&${pairs.join('&&')}&` : pairs.join('&');
        expect(parse(body)).toEqual(params);
      }),
      {
        ...RUNS,
        examples: [
          [...BOM_NAME, false, false],
          [...BOM_VALUE, true, true],
        ],
      },
    );
  });

  it('round-trips maps with every byte percent-encoded, in either hex case', () => {
    fc.assert(
      fc.property(formMap, fc.boolean(), (params, lower) => {
        const body = [...params]
          .map(([name, value]) => `${percentAll(name, lower)}=${percentAll(value, !lower)}`)
          .join('&');
        expect(parse(body)).toEqual(params);
      }),
      { ...RUNS, examples: [[...BOM_VALUE, false]] },
    );
  });

  it('treats empty names, empty values and bare names as absent', () => {
    fc.assert(
      fc.property(
        formMap,
        fc.array(
          fc.oneof(
            component.map((name) => ({ name, pair: `${encodeURIComponent(name)}=` })),
            component.map((name) => ({ name, pair: encodeURIComponent(name) })),
            component.map((value) => ({ name: '', pair: `=${encodeURIComponent(value)}` })),
            fc.constant({ name: '', pair: '=' }),
          ),
          { maxLength: 6 },
        ),
        (params, empties) => {
          // Absent, but still there: an empty or bare name must not share a name with any other (§3.1).
          const named = empties.filter(({ name }) => name !== '');
          fc.pre(
            new Set(named.map(({ name }) => name)).size === named.length &&
              named.every(({ name }) => !params.has(name)),
          );
          const pairs = [...params].map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`);
          const body = [...pairs, ...empties.map(({ pair }) => pair)].sort().join('&');
          expect(parse(body)).toEqual(params);
        },
      ),
      RUNS,
    );
  });

  it('throws invalid_request for a repeated name whatever its values: empty, bare or not', () => {
    // One occurrence of the name in each of these forms; two of them, in any order, are a repetition.
    const occurrence = fc.oneof(
      component.map((value) => (name: string) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`),
      fc.constant((name: string) => `${encodeURIComponent(name)}=`),
      fc.constant((name: string) => encodeURIComponent(name)),
      fc.constant((name: string) => `${percentAll(name, true)}=`),
    );
    fc.assert(
      fc.property(
        formMap,
        component,
        occurrence,
        occurrence,
        fc.nat(),
        fc.nat(),
        (others, name, first, second, at, secondAt) => {
          const pairs = [...others]
            .filter(([other]) => other !== name)
            .map(([n, v]) => `${encodeURIComponent(n)}=${encodeURIComponent(v)}`);
          pairs.splice(at % (pairs.length + 1), 0, first(name));
          pairs.splice(secondAt % (pairs.length + 1), 0, second(name));
          expectInvalidRequest(() => parse(pairs.join('&')), `parameter ${safeName(name)} is repeated`);
        },
      ),
      {
        ...RUNS,
        examples: [
          [new Map(), 'username', (n: string) => `${n}=`, (n: string) => `${n}=demo`, 0, 1],
          [new Map([['grant_type', 'password']]), 'password', (n: string) => n, (n: string) => `${n}=x`, 1, 0],
        ],
      },
    );
  });

  it('either parses any byte string or throws InvalidRequestError, agreeing with WHATWG when it parses', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 256 }),
      // Bytes drawn mostly from the form syntax, so that some bodies parse.
      fc
        .array(
          fc.oneof(fc.constantFrom(...utf8.encode('&=+%aZ09'), 0x25, 0x26, 0x3d), fc.integer({ min: 0, max: 255 })),
          { maxLength: 128 },
        )
        .map((list) => Uint8Array.from(list)),
      fc
        .array(
          fc.constantFrom('a', '=', '&', '%', '2', '6', 'F', 'e', '+', '%C3', '%A9', '%EF%BB%BF', '%E2%82%AC', '%FF'),
          { maxLength: 40 },
        )
        .map((parts) => utf8.encode(parts.join(''))),
    );
    fc.assert(
      fc.property(bytes, (body) => {
        let result: Map<string, string> | undefined;
        try {
          result = parse(body);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidRequestError);
        }
        for (const [name, value] of result ?? []) {
          expect(name).not.toBe('');
          expect(value).not.toBe('');
        }
        // When the whole body is UTF-8, URLSearchParams (the WHATWG parser) is an oracle for what parsed.
        let asText: string;
        try {
          asText = strictUtf8.decode(body);
        } catch {
          return;
        }
        const entries = [...new URLSearchParams(asText)];
        const names = entries.map(([name]) => name).filter((name) => name !== '');
        // A name that occurs twice, with any values, is refused (§3.1).
        if (new Set(names).size !== names.length) {
          expect(result).toBeUndefined();
          return;
        }
        if (result === undefined) return;
        const expected = new Map(entries.filter(([name, value]) => name !== '' && value !== ''));
        expect(result).toEqual(expected);
      }),
      {
        numRuns: 1000,
        examples: [
          [utf8.encode('a=%EF%BB%BF')],
          [utf8.encode('%EF%BB%BFa=1')],
          [utf8.encode('username=&username=demo')],
          [utf8.encode('a&%61=1')],
        ],
      },
    );
  });

  it('throws invalid_request for a repeated non-empty name, however each occurrence is spelled', () => {
    fc.assert(
      fc.property(
        formMap,
        component,
        component,
        component,
        fc.nat(),
        fc.constantFrom('urlsearchparams', 'percent-all', 'percent-all-lower'),
        (others, name, first, second, at, spelling) => {
          const spell = (value: string) =>
            spelling === 'urlsearchparams'
              ? new URLSearchParams([['', value]]).toString().slice(1)
              : percentAll(value, spelling === 'percent-all-lower');
          const pairs = [...others]
            .filter(([other]) => other !== name)
            .map(([n, v]) => `${encodeURIComponent(n)}=${encodeURIComponent(v)}`);
          pairs.splice(at % (pairs.length + 1), 0, `${encodeURIComponent(name)}=${encodeURIComponent(first)}`);
          pairs.push(`${spell(name)}=${spell(second)}`);
          expectInvalidRequest(() => parse(pairs.join('&')));
        },
      ),
      {
        ...RUNS,
        examples: [
          [new Map(), '\uFEFF', 'a', 'b', 0, 'urlsearchparams'],
          [new Map(), 'a', '\uFEFFb', 'c', 0, 'percent-all'],
        ],
      },
    );
  });

  it('throws for any body over 16 KiB, whatever it contains', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: MAX_FORM_BYTES + 1, max: 4 * MAX_FORM_BYTES }),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        (length, pattern) => {
          const body = new Uint8Array(length);
          for (let i = 0; i < length; i++) body[i] = pattern[i % pattern.length]!;
          expectInvalidRequest(() => parse(body), 'request body too large');
        },
      ),
      { numRuns: 60, examples: [[MAX_FORM_BYTES + 1, utf8.encode('a=b&')]] },
    );
  });

  it('accepts a well-formed body of at most 16 KiB', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: MAX_FORM_BYTES }), (length) => {
        const body = `v=${'x'.repeat(length - 2)}`;
        expect(parse(body).get('v')?.length ?? 0).toBe(length - 2);
      }),
      { numRuns: 60, examples: [[MAX_FORM_BYTES]] },
    );
  });

  it('throws for any content type that is not application/x-www-form-urlencoded', () => {
    const contentType = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc.constantFrom(
        'application/json',
        'text/plain',
        'multipart/form-data; boundary=x',
        'application/x-www-form-urlencodedx',
        'application/x-www-form-urlencoded/x',
        'application/x-www-form',
        'x-www-form-urlencoded',
        'application/x-www-form-urlencoded,application/json',
        '',
        ' ',
        ';',
      ),
      // The right type with junk glued on before the first ';'.
      fc
        .tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.boolean())
        .map(([junk, before]) => (before ? junk + FORM : FORM + junk)),
    );
    fc.assert(
      fc.property(contentType, (type) => {
        fc.pre(type.split(';')[0]!.trim().toLowerCase() !== FORM);
        expectInvalidRequest(() => parse('a=1', type), 'content type must be application/x-www-form-urlencoded');
      }),
      { numRuns: 400 },
    );
    expectInvalidRequest(() => parse('a=1', undefined), 'content type must be application/x-www-form-urlencoded');
  });

  it('accepts the form type in any case, with whitespace and parameters, and rejects charsets other than UTF-8', () => {
    const caseOf = (value: string, mask: boolean[]) =>
      [...value].map((c, i) => (mask[i % Math.max(mask.length, 1)] ? c.toUpperCase() : c)).join('');
    const whitespace = fc.constantFrom('', ' ', '  ', '\t');
    const otherParameter = fc
      .tuple(fc.stringMatching(/^[a-z]{1,8}$/), fc.stringMatching(/^[A-Za-z0-9-]{0,8}$/))
      .filter(([key]) => key !== 'charset')
      .map(([key, value]) => `${key}=${value}`);
    const charset = fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/),
      fc.constantFrom('utf-8', 'UTF-8', 'utf8', 'Utf-8', '"utf-8"', 'latin1', 'iso-8859-1', 'utf-16', 'us-ascii'),
    );
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }),
        whitespace,
        whitespace,
        fc.array(otherParameter, { maxLength: 3 }),
        fc.option(charset),
        (mask, lead, trail, parameters, charsetValue) => {
          const type = [
            lead + caseOf(FORM, mask) + trail,
            ...parameters,
            ...(charsetValue === null ? [] : [` charset=${charsetValue}`]),
          ].join(';');
          const normalized = charsetValue?.replace(/^"(.*)"$/, '$1').toLowerCase();
          if (normalized === undefined || normalized === 'utf-8' || normalized === 'utf8') {
            expect(parse('a=1', type).get('a')).toBe('1');
          } else {
            expectInvalidRequest(() => parse('a=1', type), 'only the UTF-8 charset is supported');
          }
        },
      ),
      RUNS,
    );
  });

  it('throws for a % that is not followed by two hex digits, in a name or a value', () => {
    const notHex = fc.integer({ min: 0, max: 255 }).filter((byte) => !HEX.has(String.fromCharCode(byte)));
    const hexDigit = fc.constantFrom(...HEX);
    // '%', then: nothing, one hex digit and the end, a non-hex byte, or a hex digit and a non-hex byte.
    const badEscape = fc.oneof(
      fc.constant<number[]>([]),
      hexDigit.map((digit) => [digit.charCodeAt(0)]),
      notHex.map((byte) => [byte]),
      fc.tuple(hexDigit, notHex).map(([digit, byte]) => [digit.charCodeAt(0), byte]),
      fc.tuple(notHex, hexDigit).map(([byte, digit]) => [byte, digit.charCodeAt(0)]),
    );
    fc.assert(
      fc.property(
        formMap,
        fc.stringMatching(/^[a-z]{1,6}$/),
        badEscape,
        fc.boolean(),
        fc.nat(),
        (params, prefix, rest, inName, at) => {
          // Nothing after the escape when it lacks bytes: a '&' or '=' would be read as a digit's place.
          const broken = Uint8Array.from([...utf8.encode(prefix), 0x25, ...rest]);
          const pair = inName ? [...broken, ...utf8.encode('=v')] : [...utf8.encode('n='), ...broken];
          const pairs = [...params].map(([n, v]) => [
            ...utf8.encode(`${encodeURIComponent(n)}=${encodeURIComponent(v)}`),
          ]);
          pairs.splice(at % (pairs.length + 1), 0, pair);
          const body = Uint8Array.from(pairs.flatMap((p, i) => (i === 0 ? p : [0x26, ...p])));
          expectInvalidRequest(() => parse(body));
        },
      ),
      RUNS,
    );
  });

  it('throws when the bytes of a name or value are not UTF-8, whether raw or percent-encoded', () => {
    const invalidUtf8 = fc.uint8Array({ minLength: 1, maxLength: 24 }).filter((bytes) => {
      try {
        strictUtf8.decode(bytes);
        return false;
      } catch {
        return true;
      }
    });
    // Raw bytes other than the syntax bytes & = + %, so that they stay one component.
    const isSyntax = (byte: number) => byte === 0x26 || byte === 0x3d || byte === 0x2b || byte === 0x25;
    fc.assert(
      fc.property(formMap, invalidUtf8, fc.boolean(), fc.boolean(), (params, bad, encoded, inName) => {
        fc.pre(encoded || !bad.some(isSyntax));
        const component = encoded
          ? utf8.encode([...bad].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join(''))
          : bad;
        const pair = inName ? [...component, ...utf8.encode('=v')] : [...utf8.encode('n='), ...component];
        const rest = [...params].map(([n, v]) => [
          0x26,
          ...utf8.encode(`${encodeURIComponent(n)}=${encodeURIComponent(v)}`),
        ]);
        expectInvalidRequest(() => parse(Uint8Array.from([...pair, ...rest.flat()])), 'parameters must be UTF-8');
      }),
      {
        numRuns: 400,
        examples: [
          [new Map(), Uint8Array.from([0xed, 0xa0, 0x80]), true, false],
          [new Map(), Uint8Array.from([0xc3]), false, true],
        ],
      },
    );
  });
});
