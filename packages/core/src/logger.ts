export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

const LEVELS: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50 };

/**
 * Structured logging. The first argument is a stable event name (`path-changed`), never prose;
 * details go in fields. `child()` adds bindings (e.g. `{ peer }`) to every line.
 */
export interface Logger {
  trace(event: string, fields?: LogFields): void;
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  child(bindings: LogFields): Logger;
}

export interface JsonLinesLoggerOptions {
  level?: LogLevel;
  /** Receives one complete line (with trailing newline) per call. Defaults to process.stdout. */
  write?: (line: string) => void;
  /** Wall-clock source for `ts`. */
  now?: () => number;
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
