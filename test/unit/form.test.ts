import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../lambda/oauth/errors';
import { MAX_FORM_BYTES, parseForm } from '../../lambda/oauth/form';

const FORM = 'application/x-www-form-urlencoded';
const parse = (body: string | Buffer, ...contentType: [string | undefined] | []) =>
  parseForm(
    contentType.length === 0 ? FORM : contentType[0],
    typeof body === 'string' ? Buffer.from(body, 'latin1') : body,
  );

describe('parseForm', () => {
  it.each([
    ['grant_type=password&username=alice', { grant_type: 'password', username: 'alice' }],
    ['a=b+c&d=%E2%82%AC', { a: 'b c', d: '€' }],
    ['a=%2B%26%3D', { a: '+&=' }],
    ['a=1&&b=2&', { a: '1', b: '2' }],
    ['empty=&a=1&flag', { a: '1' }],
    ['', {}],
    ['%61=x', { a: 'x' }],
    ['%EF%BB%BFname=%EF%BB%BFvalue', { '\uFEFFname': '\uFEFFvalue' }],
  ])('parses %j', (body, expected) => {
    expect(Object.fromEntries(parse(body))).toEqual(expected);
  });

  it.each([
    ['application/x-www-form-urlencoded; charset=UTF-8'],
    ['Application/X-WWW-Form-URLEncoded;charset="utf-8"'],
    ['application/x-www-form-urlencoded ; foo=bar'],
  ])('accepts content type %s', (contentType) => {
    expect(parse('a=1', contentType).get('a')).toBe('1');
  });

  it.each([
    ['repeated parameter', 'a=1&a=2', FORM, 'parameter a is repeated'],
    // §3.1: a parameter MUST NOT be included more than once, whatever its values.
    ['repeated parameter, first empty', 'username=&username=demo', FORM, 'parameter username is repeated'],
    ['repeated parameter, second empty', 'username=demo&username=', FORM, 'parameter username is repeated'],
    ['repeated parameter, both empty', 'a=&a=', FORM, 'parameter a is repeated'],
    ['repeated bare name', 'a&a=1', FORM, 'parameter a is repeated'],
    ['repeated bare names', 'scope&scope', FORM, 'parameter scope is repeated'],
    ['repeated parameter, spelled differently', 'username=&%75sername=demo', FORM, 'parameter username is repeated'],
    [
      'repeated parameter among others',
      'grant_type=password&password=&username=u&password=p',
      FORM,
      'parameter password is repeated',
    ],
    ['truncated escape', 'a=%4', FORM, 'malformed percent-encoding'],
    ['non-hex escape', 'a=%zz', FORM, 'malformed percent-encoding'],
    ['invalid UTF-8', 'a=%C3%28', FORM, 'parameters must be UTF-8'],
    ['lone surrogate bytes', 'a=%ED%A0%80', FORM, 'parameters must be UTF-8'],
    ['JSON body', 'a=1', 'application/json', 'content type must be application/x-www-form-urlencoded'],
    ['no content type', 'a=1', undefined, 'content type must be application/x-www-form-urlencoded'],
    ['multipart', 'a=1', 'multipart/form-data; boundary=x', 'content type must be application/x-www-form-urlencoded'],
    ['another charset', 'a=1', `${FORM}; charset=iso-8859-1`, 'only the UTF-8 charset is supported'],
  ])('rejects %s', (_name, body, contentType, description) => {
    expect(() => parse(body, contentType)).toThrow(InvalidRequestError);
    expect(() => parse(body, contentType)).toThrow(description);
  });

  it('rejects a body over 16 KiB and accepts one at the limit', () => {
    const atLimit = `a=${'x'.repeat(MAX_FORM_BYTES - 2)}`;
    expect(parse(atLimit).get('a')).toHaveLength(MAX_FORM_BYTES - 2);
    expect(() => parse(`${atLimit}x`)).toThrow('request body too large');
  });

  it('does not echo odd parameter names', () => {
    expect(() => parse('%3Cscript%3E=1&%3Cscript%3E=2')).toThrow('parameter a parameter is repeated');
  });

  it('treats raw non-ASCII UTF-8 bytes like their escapes', () => {
    expect(parse(Buffer.from('name=Zoë', 'utf8')).get('name')).toBe('Zoë');
  });
});
