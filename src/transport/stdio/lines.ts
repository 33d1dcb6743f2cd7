// Newline framing for the stdio transport (MCP 2026-07-28 transports/stdio: "Messages are delimited
// by newlines, and MUST NOT contain embedded newlines"). Splits a byte stream into UTF-8 lines with a
// size cap, so one runaway line cannot exhaust memory.

const NEWLINE = 0x0a;

export interface LineHandlers {
  line(text: string): void;
  /** A line longer than the cap; it is discarded whole. */
  oversize(): void;
  /** A line that is not valid UTF-8 (MCP basic/transports: JSON-RPC messages MUST be UTF-8 encoded). */
  invalid(): void;
}

export class LineSplitter {
  readonly #max: number;
  readonly #on: LineHandlers;
  readonly #decoder = new TextDecoder('utf-8', { fatal: true });
  #parts: Buffer[] = [];
  #size = 0;
  /** True while discarding the rest of an oversized line. */
  #skipping = false;

  constructor(maxLineBytes: number, handlers: LineHandlers) {
    this.#max = maxLineBytes;
    this.#on = handlers;
  }

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl === -1) {
        this.#append(chunk.subarray(start));
        return;
      }
      const tail = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.#skipping) {
        this.#skipping = false;
        continue;
      }
      if (this.#size + tail.length > this.#max) {
        this.#reset();
        this.#on.oversize();
        continue;
      }
      const line = this.#parts.length ? Buffer.concat([...this.#parts, tail]) : tail;
      this.#reset();
      this.#emit(line);
    }
  }

  /** End of input: a final line without a newline still counts. */
  end(): void {
    if (!this.#skipping && this.#size > 0) this.#emit(Buffer.concat(this.#parts));
    this.#reset();
    this.#skipping = false;
  }

  #append(bytes: Buffer): void {
    if (this.#skipping || bytes.length === 0) return;
    if (this.#size + bytes.length > this.#max) {
      this.#reset();
      this.#skipping = true;
      this.#on.oversize();
      return;
    }
    // Copy: the stream may reuse the chunk's memory.
    this.#parts.push(Buffer.from(bytes));
    this.#size += bytes.length;
  }

  #reset(): void {
    this.#parts = [];
    this.#size = 0;
  }

  #emit(bytes: Buffer): void {
    let text: string;
    try {
      text = this.#decoder.decode(bytes);
    } catch {
      this.#on.invalid();
      return;
    }
    // Tolerate CRLF framing from Windows clients; skip blank lines (they carry no message).
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text.trim() === '') return;
    this.#on.line(text);
  }
}
