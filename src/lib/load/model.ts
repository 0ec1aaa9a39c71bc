import { asGiven, count } from '../report/numbers';

/**
 * How each user generates load. One union shared by the input parser, the plan, the worker and the
 * engine: a new model is a new case here and one branch in the engine.
 *
 * Closed models (`iterations`, `duration`) keep `concurrency` requests in flight and start the next
 * when one ends. Open models (`rate`, `stages`) start requests on a schedule regardless of responses,
 * with at most `maxInFlight` in flight; see DESIGN §4 "Open-model semantics".
 */
export type LoadModel =
  | { readonly model: 'iterations'; readonly iterations: number; readonly concurrency: number }
  | { readonly model: 'duration'; readonly durationSeconds: number; readonly concurrency: number }
  | {
      readonly model: 'rate';
      /** Requests per second, per user. */
      readonly ratePerSecond: number;
      readonly durationSeconds: number;
      readonly maxInFlight: number;
      readonly maxQueueMs: number;
    }
  | {
      readonly model: 'stages';
      /** Piecewise-linear per-user rate: from the previous stage's target (0 at first) to this one's. */
      readonly stages: readonly Stage[];
      readonly maxInFlight: number;
      readonly maxQueueMs: number;
    };

export interface Stage {
  readonly durationSeconds: number;
  /** Requests per second, per user, at the end of the stage. */
  readonly target: number;
}

export type OpenModel = Extract<LoadModel, { model: 'rate' | 'stages' }>;

export const isOpen = (load: LoadModel): load is OpenModel => load.model === 'rate' || load.model === 'stages';

/** A request still waiting for a free slot this long after its intended start is dropped (DESIGN §4). */
export const DEFAULT_MAX_QUEUE_MS = 1_000;

/** Connections (requests in flight) one user may hold. */
export const inFlightOf = (load: LoadModel): number => (isOpen(load) ? load.maxInFlight : load.concurrency);

/** Seconds one user's load lasts, when the model fixes it (iterations depend on the target's speed). */
export function durationOf(load: LoadModel): number | undefined {
  switch (load.model) {
    case 'iterations':
      return undefined;
    case 'duration':
    case 'rate':
      return load.durationSeconds;
    case 'stages':
      return load.stages.reduce((s, stage) => s + stage.durationSeconds, 0);
  }
}

/** Requests one user plans to send, when the model fixes it. */
export function plannedRequestsOf(load: LoadModel): number | undefined {
  switch (load.model) {
    case 'iterations':
      return load.iterations;
    case 'duration':
      return undefined;
    case 'rate':
      return Math.floor(load.ratePerSecond * load.durationSeconds);
    case 'stages':
      return Math.floor(stagesArea(load.stages));
  }
}

const stagesArea = (stages: readonly Stage[]): number => {
  let from = 0;
  let area = 0;
  for (const stage of stages) {
    area += ((from + stage.target) / 2) * stage.durationSeconds;
    from = stage.target;
  }
  return area;
};

/** One line for the console and the report: what each user did. */
export function describeLoad(load: LoadModel): string {
  switch (load.model) {
    case 'iterations':
      return `${count(load.iterations)} requests per user, ${count(load.concurrency)} in flight`;
    case 'duration':
      return `${count(load.durationSeconds)} s per user, ${count(load.concurrency)} in flight`;
    case 'rate':
      return `${asGiven(load.ratePerSecond)} req/s per user for ${count(load.durationSeconds)} s, at most ${count(load.maxInFlight)} in flight`;
    case 'stages':
      return `stages ${load.stages.map((s) => `${count(s.durationSeconds)}s→${asGiven(s.target)}/s`).join(', ')} per user, at most ${count(load.maxInFlight)} in flight`;
  }
}

/**
 * The intended start of each request of an open model, in ms from the user's start: request i starts
 * when the cumulative number of requests of the rate curve reaches i (so at a constant rate R, i·1000/R).
 * Returns undefined past the end. Computed per call from the stage table: nothing is precomputed per request.
 */
export function scheduleOf(load: OpenModel): (i: number) => number | undefined {
  const stages: readonly Stage[] =
    load.model === 'rate' ? [{ durationSeconds: load.durationSeconds, target: load.ratePerSecond }] : load.stages;
  // For 'rate' the curve is flat from the start, not a ramp from 0.
  const startRate = load.model === 'rate' ? load.ratePerSecond : 0;
  const segments: { startMs: number; startCount: number; a: number; b: number; seconds: number }[] = [];
  let from = startRate;
  let startMs = 0;
  let startCount = 0;
  for (const stage of stages) {
    segments.push({ startMs, startCount, a: from, b: stage.target, seconds: stage.durationSeconds });
    startCount += ((from + stage.target) / 2) * stage.durationSeconds;
    startMs += stage.durationSeconds * 1000;
    from = stage.target;
  }
  const total = Math.floor(startCount + 1e-9);
  let segment = 0;
  return (i: number) => {
    if (i >= total) return undefined;
    // Requests are asked for in order, so the segment only moves forward.
    while (segment < segments.length - 1 && (segments[segment + 1]?.startCount ?? 0) <= i) segment++;
    const s = segments[segment];
    if (!s) return undefined;
    const k = i - s.startCount;
    // Within a segment the rate is a + (b - a)·t/T, so count(t) = a·t + (b - a)·t²/(2T); solve for t.
    const slope = (s.b - s.a) / s.seconds;
    let t: number;
    if (Math.abs(slope) < 1e-12) t = s.a > 0 ? k / s.a : 0;
    else t = (-s.a + Math.sqrt(Math.max(0, s.a * s.a + 2 * slope * k))) / slope;
    return s.startMs + Math.min(s.seconds, Math.max(0, t)) * 1000;
  };
}
