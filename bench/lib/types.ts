/** One reported figure. For throughput, ratio = value / baseline (higher is better); 0/0 when there is no baseline. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  baseline: number;
  ratio: number;
}

export interface BenchOptions {
  /** Short mode: fewer runs and smaller sizes, so the whole suite fits in about a minute. */
  quick: boolean;
  /** Start bench peers with --cpu-prof, writing profiles to bench/profiles/. */
  profile: boolean;
}

/** A benchmark module; the runner's registry is a list of these. */
export interface BenchModule {
  /** Prefix of every result name it reports, e.g. 'codec' or 'transport.push'. */
  name: string;
  run(opts: BenchOptions): Promise<BenchResult[]>;
}

/** A result with its ratio filled in (value / baseline, or 0 without a baseline). */
export function result(name: string, value: number, unit: string, baseline = 0): BenchResult {
  return { name, value, unit, baseline, ratio: baseline > 0 ? value / baseline : 0 };
}
