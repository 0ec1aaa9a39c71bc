/** Inline SVG line charts for report.html: no script, no network, readable when printed. */

import { asGiven } from './numbers';

export const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

export interface Series {
  readonly name: string;
  readonly color: string;
  /** [x, y]; a null y breaks the line (no response in that interval). */
  readonly points: readonly (readonly [number, number | null])[];
  readonly dashed?: boolean;
}

export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** Where x values sit on the axis (0..1), and the tick values with their labels; linear by default. */
  readonly xAxis?: { readonly position: (x: number) => number; readonly ticks: readonly (readonly [number, string])[] };
}

const WIDTH = 1100;
const HEIGHT = 300;
const LEFT = 70;
const RIGHT = 20;
const TOP = 30;
const BOTTOM = 50;

/** Round tick steps (1, 2, 5 × 10^k) that give about `count` ticks from 0 to max. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = 0; t < max + step / 2; t += step) ticks.push(Number(t.toPrecision(12)));
  if ((ticks.at(-1) ?? 0) < max) ticks.push(Number(((ticks.at(-1) ?? 0) + step).toPrecision(12)));
  return ticks;
}

// A tick is a round number (niceTicks): asGiven's six decimals at most drop float noise such as 0.30000000000000004.
const label = (value: number): string => asGiven(value);

export function lineChart(options: ChartOptions): string {
  const values = options.series.flatMap((s) => s.points.map(([, y]) => y).filter((y): y is number => y !== null));
  const xs = options.series.flatMap((s) => s.points.map(([x]) => x));
  const plotW = WIDTH - LEFT - RIGHT;
  const plotH = HEIGHT - TOP - BOTTOM;
  const yTicks = niceTicks(Math.max(0, ...values));
  const yMax = yTicks.at(-1) ?? 1;
  const xMin = Math.min(...xs, 0);
  const xMaxRaw = Math.max(...xs, 1);
  const linearTicks = niceTicks(xMaxRaw - xMin, 10).map((t) => t + xMin);
  const xMax = options.xAxis ? xMaxRaw : (linearTicks.at(-1) ?? 1);
  const position = options.xAxis?.position ?? ((x: number) => (xMax > xMin ? (x - xMin) / (xMax - xMin) : 0));
  const px = (x: number) => (LEFT + position(x) * plotW).toFixed(1);
  const py = (y: number) => (TOP + plotH - (y / yMax) * plotH).toFixed(1);
  const xTicks = options.xAxis?.ticks ?? linearTicks.map((t): [number, string] => [t, label(t)]);
  const grid = [
    ...yTicks.map(
      (t) =>
        `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${py(t)}" y2="${py(t)}" stroke="#e4e4e4"/><text x="${LEFT - 6}" y="${py(t)}" text-anchor="end" dominant-baseline="middle">${escapeHtml(label(t))}</text>`,
    ),
    ...xTicks.map(
      ([t, text]) =>
        `<line x1="${px(t)}" x2="${px(t)}" y1="${TOP}" y2="${TOP + plotH}" stroke="#f0f0f0"/><text x="${px(t)}" y="${TOP + plotH + 16}" text-anchor="middle">${escapeHtml(text)}</text>`,
    ),
  ].join('');
  const lines = options.series
    .map((s) => {
      // A null breaks the line into segments; a lone point still shows as a dot.
      const segments: string[][] = [[]];
      for (const [x, y] of s.points) {
        if (y === null) segments.push([]);
        else segments.at(-1)?.push(`${px(x)},${py(y)}`);
      }
      return segments
        .filter((seg) => seg.length > 0)
        .map((seg) =>
          seg.length === 1
            ? `<circle cx="${seg[0]?.split(',')[0]}" cy="${seg[0]?.split(',')[1]}" r="2.5" fill="${s.color}"/>`
            : `<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${seg.join(' ')}"/>`,
        )
        .join('');
    })
    .join('');
  const legend = options.series
    .map(
      (s, i) =>
        `<g transform="translate(${LEFT + 10 + i * 150},${TOP - 12})"><line x1="0" x2="22" y1="0" y2="0" stroke="${s.color}" stroke-width="3"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/><text x="28" y="0" dominant-baseline="middle">${escapeHtml(s.name)}</text></g>`,
    )
    .join('');
  return `<figure><figcaption>${escapeHtml(options.title)}</figcaption><svg class="chart" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(options.title)}" font-size="12" font-family="system-ui,sans-serif">
<rect x="${LEFT}" y="${TOP}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>${grid}${lines}${legend}
<text x="${LEFT + plotW / 2}" y="${HEIGHT - 8}" text-anchor="middle" font-weight="600">${escapeHtml(options.xLabel)}</text>
<text transform="translate(16,${TOP + plotH / 2}) rotate(-90)" text-anchor="middle" font-weight="600">${escapeHtml(options.yLabel)}</text>
</svg></figure>`;
}
