/**
 * Counters and gauges that hot paths update as plain number fields. prom-client
 * hashes label objects into strings on every labelled `inc`; here the data
 * path only adds to a number, and the prom-client metric copies the numbers
 * in when it is scraped (its `collect` hook).
 */
import { Counter as PromCounter, Gauge as PromGauge, type Registry } from 'prom-client';
import { BraidError, ErrorCodes } from '../protocol/index.js';

export interface CounterSeries {
  /** Adds n (default 1); n must be >= 0. */
  inc(n?: number): void;
  readonly value: number;
}

export interface LabeledCounterSeries<L extends string> {
  inc(label: L, n?: number): void;
  /** The series of one label value, to keep and bump without a map lookup. */
  series(label: L): CounterSeries;
  get(label: L): number;
}

export interface GaugeSeries {
  set(value: number): void;
  inc(n?: number): void;
  dec(n?: number): void;
  readonly value: number;
}

/**
 * At most this many series per labelled counter: once full, new label values
 * are counted under "other", so a caller passing unbounded values (ids,
 * messages) cannot grow the registry without limit.
 */
export const MAX_LABEL_VALUES = 64;
const OVERFLOW_LABEL = 'other';

class CounterCell implements CounterSeries {
  value = 0;

  inc(n = 1): void {
    // Counters only go up; a negative or NaN step is a caller bug worth a loud failure.
    if (!(n >= 0)) throw new BraidError(ErrorCodes.INTERNAL, `counter increment must be >= 0, got ${n}`);
    this.value += n;
  }
}

class LabeledCounter<L extends string> implements LabeledCounterSeries<L> {
  readonly cells = new Map<string, CounterCell>();

  constructor(initial: readonly L[]) {
    for (const label of initial) this.cells.set(label, new CounterCell());
  }

  series(label: L): CounterSeries {
    let cell = this.cells.get(label);
    if (cell === undefined) {
      // The last of the MAX_LABEL_VALUES series is kept for the overflow.
      const key = this.cells.size < MAX_LABEL_VALUES - 1 ? label : OVERFLOW_LABEL;
      cell = this.cells.get(key) ?? new CounterCell();
      this.cells.set(key, cell);
    }
    return cell;
  }

  inc(label: L, n = 1): void {
    this.series(label).inc(n);
  }

  get(label: L): number {
    return this.cells.get(label)?.value ?? 0;
  }
}

class GaugeCell implements GaugeSeries {
  value = 0;

  set(value: number): void {
    this.value = value;
  }

  inc(n = 1): void {
    this.value += n;
  }

  dec(n = 1): void {
    this.value -= n;
  }
}

interface SeriesDef {
  readonly name: string;
  readonly help: string;
  readonly registers: Registry[];
}

export function counter(def: SeriesDef): CounterSeries {
  const cell = new CounterCell();
  new PromCounter({
    name: def.name,
    help: def.help,
    registers: def.registers,
    collect() {
      this.reset();
      this.inc(cell.value);
    },
  });
  return cell;
}

export function labeledCounter<L extends string>(
  def: SeriesDef & { readonly label: string; readonly initial?: readonly L[] },
): LabeledCounterSeries<L> {
  const counters = new LabeledCounter<L>(def.initial ?? []);
  const labelName = def.label;
  new PromCounter<string>({
    name: def.name,
    help: def.help,
    labelNames: [labelName],
    registers: def.registers,
    collect() {
      this.reset();
      for (const [label, cell] of counters.cells) this.inc({ [labelName]: label }, cell.value);
    },
  });
  return counters;
}

export interface LabeledGaugeSeries<L extends string> {
  set(label: L, value: number): void;
}

/** A gauge per label value (at most MAX_LABEL_VALUES, set from a bounded set such as quota names). */
export function labeledGauge<L extends string>(def: SeriesDef & { readonly label: string }): LabeledGaugeSeries<L> {
  const values = new Map<string, number>();
  const labelName = def.label;
  new PromGauge<string>({
    name: def.name,
    help: def.help,
    labelNames: [labelName],
    registers: def.registers,
    collect() {
      this.reset();
      for (const [label, value] of values) this.set({ [labelName]: label }, value);
    },
  });
  return {
    set(label, value) {
      if (values.has(label) || values.size < MAX_LABEL_VALUES) values.set(label, value);
    },
  };
}

export function gauge(def: SeriesDef): GaugeSeries {
  const cell = new GaugeCell();
  new PromGauge({
    name: def.name,
    help: def.help,
    registers: def.registers,
    collect() {
      this.set(cell.value);
    },
  });
  return cell;
}
