import { useId } from "react";

export interface Bar {
  /** Null: nothing to show for this bucket (no attempts). */
  value: number | null;
  /** Shown on hover and read by screen readers that explore the chart. */
  label: string;
}

interface Props {
  title: string;
  /** A sentence that says what the chart shows, for people who cannot see it. */
  summary: string;
  bars: Bar[];
  max: number;
  tone: "rate" | "latency";
}

const BAR_WIDTH = 10;
const HEIGHT = 60;

/** A small bar chart as inline SVG: one bar per bucket, empty buckets as a faint baseline tick. */
export function BarChart({ title, summary, bars, max, tone }: Props) {
  const summaryId = useId();
  const scale = max > 0 ? max : 1;
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <svg
        viewBox={`0 0 ${bars.length * BAR_WIDTH} ${HEIGHT}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${title}. ${summary}`}
        aria-describedby={summaryId}
        className={`chart-svg chart-${tone}`}
      >
        <title>{title}</title>
        {bars.map((bar, index) => {
          const height = bar.value === null ? 1 : Math.max(1, (bar.value / scale) * (HEIGHT - 2));
          return (
            <rect
              // Buckets are positional: the index is their identity.
              // biome-ignore lint/suspicious/noArrayIndexKey: see above
              key={index}
              className={bar.value === null ? "chart-bar-empty" : "chart-bar"}
              x={index * BAR_WIDTH + 1}
              y={HEIGHT - height}
              width={BAR_WIDTH - 2}
              height={height}
            >
              <title>{bar.label}</title>
            </rect>
          );
        })}
      </svg>
      <p id={summaryId} className="muted small">
        {summary}
      </p>
    </figure>
  );
}
