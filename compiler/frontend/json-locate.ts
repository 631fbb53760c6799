/**
 * Finds where and why JSON text is malformed, for a "line L, column C" message. Runs only after
 * JSON.parse has failed, on text whose nesting depth is already limited, so plain recursion is fine.
 */

class JsonSyntax extends Error {
  constructor(readonly pos: number, reason: string) {
    super(reason);
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

export function locateJsonError(text: string): { pos: number; reason: string } {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  const unexpected = (what = "a value"): never => {
    if (i >= text.length) throw new JsonSyntax(i, `unexpected end of input, expected ${what}`);
    throw new JsonSyntax(i, `unexpected ${JSON.stringify(text[i])}, expected ${what}`);
  };
  const expect = (c: string) => {
    ws();
    if (text[i] !== c) unexpected(`"${c}"`);
    i++;
  };
  const string = () => {
    if (text[i] !== '"') unexpected("a string in double quotes");
    i++;
    for (;;) {
      if (i >= text.length) unexpected('a closing "');
      const c = text.charCodeAt(i);
      if (c === 0x22) return void i++;
      if (c < 0x20) throw new JsonSyntax(i, "unexpected control character in a string (escape it)");
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === "u" ? !/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6)) : !'"\\/bfnrt'.includes(e ?? "x")) {
          throw new JsonSyntax(i, "invalid escape sequence in a string");
        }
        i += e === "u" ? 6 : 2;
      } else i++;
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === "{") return object();
    if (c === "[") return array();
    if (c === '"') return string();
    for (const lit of ["true", "false", "null"]) if (text.startsWith(lit, i)) return void (i += lit.length);
    NUMBER.lastIndex = i;
    if (NUMBER.test(text)) return void (i = NUMBER.lastIndex);
    unexpected();
  };
  const object = () => {
    i++;
    ws();
    if (text[i] === "}") return void i++;
    for (;;) {
      ws();
      string();
      expect(":");
      value();
      ws();
      if (text[i] === "}") return void i++;
      if (text[i] !== ",") unexpected('"," or "}"');
      i++;
    }
  };
  const array = () => {
    i++;
    ws();
    if (text[i] === "]") return void i++;
    for (;;) {
      value();
      ws();
      if (text[i] === "]") return void i++;
      if (text[i] !== ",") unexpected('"," or "]"');
      i++;
    }
  };
  try {
    value();
    ws();
    if (i < text.length) unexpected("the end of input");
    return { pos: i, reason: "malformed JSON" };
  } catch (err) {
    if (err instanceof JsonSyntax) return { pos: err.pos, reason: err.message };
    throw err;
  }
}
