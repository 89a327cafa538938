/** Severity of a log line, from the most verbose to the most severe. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
/** Structured details of a log line; values are JSON-encoded (Buffers as their length, Errors as message and code). */
export type LogFields = Record<string, unknown>;

const LEVELS: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50 };

/**
 * Structured logging. The first argument is a stable event name (`path-changed`), never prose;
 * details go in fields. `child()` adds bindings (e.g. `{ peer }`) to every line.
 */
export interface Logger {
  /** Very detailed tracing, off by default. */
  trace(event: string, fields?: LogFields): void;
  /** Diagnostic details. */
  debug(event: string, fields?: LogFields): void;
  /** Normal operation worth a line. */
  info(event: string, fields?: LogFields): void;
  /** Something went wrong and was handled. */
  warn(event: string, fields?: LogFields): void;
  /** Something went wrong and was not handled. */
  error(event: string, fields?: LogFields): void;
  /** A logger that adds `bindings` to every line. */
  child(bindings: LogFields): Logger;
}

/** Options of JsonLinesLogger. */
export interface JsonLinesLoggerOptions {
  /** Minimum level written; `info` by default. */
  level?: LogLevel;
  /** Receives one complete line (with trailing newline) per call. Defaults to process.stdout. */
  write?: (line: string) => void;
  /** Wall-clock source for `ts`. */
  now?: () => number;
  /** Fields added to every line. */
  bindings?: LogFields;
}

/** One JSON object per line: `{"ts","level","event",...bindings,...fields}`. */
export class JsonLinesLogger implements Logger {
  readonly #min: number;
  readonly #write: (line: string) => void;
  readonly #now: () => number;
  readonly #bindings: LogFields;
  readonly #options: JsonLinesLoggerOptions;

  constructor(options: JsonLinesLoggerOptions = {}) {
    this.#options = options;
    this.#min = LEVELS[options.level ?? 'info'];
    this.#write = options.write ?? ((line) => process.stdout.write(line));
    this.#now = options.now ?? Date.now;
    this.#bindings = options.bindings ?? {};
  }

  #log(level: LogLevel, event: string, fields?: LogFields): void {
    if (LEVELS[level] < this.#min) return;
    const record = { ts: new Date(this.#now()).toISOString(), level, event, ...this.#bindings, ...fields };
    this.#write(`${JSON.stringify(record, replacer)}\n`);
  }

  trace(event: string, fields?: LogFields): void {
    this.#log('trace', event, fields);
  }
  debug(event: string, fields?: LogFields): void {
    this.#log('debug', event, fields);
  }
  info(event: string, fields?: LogFields): void {
    this.#log('info', event, fields);
  }
  warn(event: string, fields?: LogFields): void {
    this.#log('warn', event, fields);
  }
  error(event: string, fields?: LogFields): void {
    this.#log('error', event, fields);
  }
  child(bindings: LogFields): Logger {
    return new JsonLinesLogger({ ...this.#options, bindings: { ...this.#bindings, ...bindings } });
  }
}

function replacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  // Buffer.toJSON runs before the replacer; look at the raw value instead.
  const raw = this[key];
  if (raw instanceof Uint8Array) return `<${raw.length} bytes>`;
  if (value instanceof Error) {
    return { message: value.message, code: (value as { code?: unknown }).code, name: value.name };
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}

class SilentLogger implements Logger {
  trace(): void {}
  debug(): void {}
  info(): void {}
  warn(): void {}
  error(): void {}
  child(): Logger {
    return this;
  }
}

/** Discards everything. */
export const silentLogger: Logger = new SilentLogger();
