// A strict JSON reader for entry texts, with the rules a node applies before it looks at an
// entry (docs/PROTOCOL.md §3, "Entry texts"): RFC 8259 exactly, one value, Unicode text only, and
// the limits that keep parsers and later walks bounded. JSON.parse is laxer than a node on three
// counts that matter for a ledger: it keeps the last of two members with the same name (so a
// text can show one value to a reader and another to the hash), it reads a lone surrogate escape
// ("\udc00") as a string no UTF-8 can carry, and it turns 1e400 into Infinity. This reader
// refuses all three, and otherwise yields exactly the values JSON.parse yields.

/** Arrays and objects may nest this deep in one text (the whole text, not only entry data). */
export const MAX_JSON_DEPTH = 160;
/** The longest number literal read: no JSON encoder writes a double in more than 25 characters. */
export const MAX_NUMBER_CHARS = 100;

/** Text that is not JSON, or JSON beyond the reader's limits; `offset` is in UTF-16 code units. */
export class StrictJsonError extends Error {
  override name = 'StrictJsonError';
  constructor(message: string, readonly offset: number) {
    super(`${message} at offset ${offset}`);
  }
}

// A UTF-16 code unit of a surrogate pair without its other half: text that is no Unicode.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// Runs of string characters that need no decoding (sticky: matched at lastIndex only).
const PLAIN_RUN = /[^"\\\u0000-\u001f]*/y;
// RFC 8259's number grammar.
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;

const SIMPLE_ESCAPES: Record<string, string> = {
  '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t',
};

// A character for a message: printable ASCII as it is, anything else as U+XXXX.
function describe(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  return code > 0x20 && code < 0x7f ? JSON.stringify(c) : `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

class Reader {
  pos = 0;
  constructor(readonly text: string) {}

  fail(message: string, at = this.pos): never {
    throw new StrictJsonError(message, at);
  }

  skipWhitespace(): void {
    const t = this.text;
    for (;;) {
      const c = t.charCodeAt(this.pos);
      // RFC 8259 whitespace only: space, tab, line feed, carriage return (no BOM, no NBSP).
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.pos++;
      else return;
    }
  }

  // `depth`: arrays and objects open around the value about to be read.
  value(depth: number): unknown {
    const c = this.text[this.pos];
    switch (c) {
      case '{':
        return this.object(depth + 1);
      case '[':
        return this.array(depth + 1);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
        return this.fail(c === undefined ? 'unexpected end of text' : `unexpected character ${describe(c)}`);
    }
  }

  literal<T>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail('not a JSON value');
    this.pos += word.length;
    return value;
  }

  number(): number {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.text);
    if (!m) return this.fail('malformed number');
    const literal = m[0];
    if (literal.length > MAX_NUMBER_CHARS) this.fail(`a number literal longer than ${MAX_NUMBER_CHARS} characters`);
    const value = Number(literal); // correctly rounded, as JSON.parse reads it
    if (!Number.isFinite(value)) this.fail('a number beyond the range of a double');
    this.pos += literal.length;
    return value;
  }

  hex4(at: number): number {
    const digits = this.text.slice(at, at + 4);
    if (!HEX4.test(digits)) this.fail('malformed \\u escape', at - 2);
    return Number.parseInt(digits, 16);
  }

  string(): string {
    const t = this.text;
    const start = this.pos;
    this.pos++; // the opening quote
    let out = '';
    for (;;) {
      PLAIN_RUN.lastIndex = this.pos;
      const run = PLAIN_RUN.exec(t) as RegExpExecArray; // matches, possibly empty
      out += run[0];
      this.pos += run[0].length;
      const c = t[this.pos];
      if (c === '"') {
        this.pos++;
        return out;
      }
      if (c === undefined) this.fail('unterminated string', start);
      if (c !== '\\') this.fail('a raw control character in a string');
      const e = t[this.pos + 1];
      if (e === 'u') {
        const unit = this.hex4(this.pos + 2);
        if (unit >= 0xdc00 && unit <= 0xdfff) this.fail('an escaped low surrogate without a high one');
        if (unit >= 0xd800 && unit <= 0xdbff) {
          // Must be followed by the escape of a low surrogate: together they name one character.
          if (t[this.pos + 6] !== '\\' || t[this.pos + 7] !== 'u') this.fail('an escaped high surrogate without a low one');
          const low = this.hex4(this.pos + 8);
          if (low < 0xdc00 || low > 0xdfff) this.fail('an escaped high surrogate without a low one');
          out += String.fromCharCode(unit, low);
          this.pos += 12;
        } else {
          out += String.fromCharCode(unit);
          this.pos += 6;
        }
        continue;
      }
      const simple = e === undefined ? undefined : SIMPLE_ESCAPES[e];
      if (simple === undefined) this.fail('malformed escape');
      out += simple;
      this.pos += 2;
    }
  }

  array(depth: number): unknown[] {
    if (depth > MAX_JSON_DEPTH) this.fail(`arrays and objects nested more than ${MAX_JSON_DEPTH} levels deep`);
    this.pos++;
    const out: unknown[] = [];
    this.skipWhitespace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWhitespace();
      out.push(this.value(depth));
      this.skipWhitespace();
      const c = this.text[this.pos++];
      if (c === ']') return out;
      if (c !== ',') this.fail('expected , or ] in an array', this.pos - 1);
    }
  }

  object(depth: number): Record<string, unknown> {
    if (depth > MAX_JSON_DEPTH) this.fail(`arrays and objects nested more than ${MAX_JSON_DEPTH} levels deep`);
    this.pos++;
    const out: Record<string, unknown> = {};
    this.skipWhitespace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.pos] !== '"') this.fail('expected a member name');
      const at = this.pos;
      const name = this.string();
      this.skipWhitespace();
      if (this.text[this.pos] !== ':') this.fail('expected : after a member name');
      this.pos++;
      this.skipWhitespace();
      const value = this.value(depth);
      // Names compare as decoded strings: "id" and "\u0069d" are the same member.
      if (Object.hasOwn(out, name)) this.fail(`member ${JSON.stringify(name)} appears twice`, at);
      if (name === '__proto__') {
        // As JSON.parse does: an own property, not the object's prototype.
        Object.defineProperty(out, name, { value, writable: true, enumerable: true, configurable: true });
      } else {
        out[name] = value;
      }
      this.skipWhitespace();
      const c = this.text[this.pos++];
      if (c === '}') return out;
      if (c !== ',') this.fail('expected , or } in an object', this.pos - 1);
    }
  }
}

/**
 * Reads one JSON text strictly: RFC 8259's grammar and nothing else (one value, whitespace only
 * around it, no byte order mark), strings that are Unicode text (no lone surrogate, escaped or
 * raw), no member name twice in an object, numbers of at most MAX_NUMBER_CHARS characters within
 * the range of a double, and arrays and objects nested at most MAX_JSON_DEPTH deep. The result is
 * what JSON.parse would return. Throws StrictJsonError.
 */
export function parseStrictJson(text: string): unknown {
  if (typeof text !== 'string') throw new TypeError('parseStrictJson reads a string');
  const lone = LONE_SURROGATE.exec(text);
  if (lone) throw new StrictJsonError('a lone UTF-16 surrogate (text that is no Unicode)', lone.index);
  const reader = new Reader(text);
  reader.skipWhitespace();
  const value = reader.value(0);
  reader.skipWhitespace();
  if (reader.pos !== text.length) reader.fail('more text after the JSON value');
  return value;
}

/**
 * Decodes UTF-8 bytes as parseStrictJson's input: invalid UTF-8 is refused (StrictJsonError), and
 * a byte order mark is kept, so that the parse refuses it as a node does.
 */
export function decodeUtf8Strict(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new StrictJsonError('invalid UTF-8', 0);
  }
}
