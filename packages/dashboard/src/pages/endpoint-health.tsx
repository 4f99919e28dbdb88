import type { EndpointStats, StatsBucket, StatsWindow } from "../api-types.ts";
import { type Bar, BarChart } from "../components/bar-chart.tsx";
import { ErrorText, LoadState } from "../components/messages.tsx";
import { formatMilliseconds, formatRate, formatShortTime } from "../format.ts";

interface Props {
  stats: EndpointStats | undefined;
  loading: boolean;
  error: Error | null;
}

const WINDOWS = [
  { key: "24h", name: "Last 24 hours", bucket: "hour" },
  { key: "7d", name: "Last 7 days", bucket: "6-hour period" },
] as const;

export function EndpointHealth({ stats, loading, error }: Props) {
  return (
    <div className="panel stack-tight">
      <h2>Health</h2>
      {stats ? (
        <>
          <dl className="counts">
            <Count label="Pending" value={stats.counts.pending} cap={stats.counts_capped_at} />
            <Count label="Failed" value={stats.counts.failed} cap={stats.counts_capped_at} />
            <Count label="Succeeded (24 h)" value={stats.windows["24h"].succeeded} />
            <Count label="Succeeded (7 d)" value={stats.windows["7d"].succeeded} />
          </dl>
          {stats.last_attempt === null && stats.windows["7d"].attempts === 0 ? (
            <p className="empty-state">No attempts yet. Send a test event to see how this endpoint answers.</p>
          ) : (
            <div className="health-windows">
              {WINDOWS.map(({ key, name, bucket }) => (
                <HealthWindow
                  key={key}
                  name={name}
                  bucket={bucket}
                  window={stats.windows[key]}
                  series={stats.series[key]}
                />
              ))}
            </div>
          )}
          <ErrorText error={error} />
        </>
      ) : (
        <LoadState loading={loading} error={error} />
      )}
    </div>
  );
}

function Count({ label, value, cap }: { label: string; value: number; cap?: number }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd>{cap !== undefined && value > cap ? `${cap.toLocaleString()}+` : value}</dd>
    </div>
  );
}

interface WindowProps {
  name: string;
  bucket: string;
  window: StatsWindow;
  series: StatsBucket[];
}

function HealthWindow({ name, bucket, window, series }: WindowProps) {
  const rateBars: Bar[] = series.map((item) => {
    const rate = item.attempts > 0 ? item.succeeded / item.attempts : null;
    return {
      value: rate,
      label: `${formatShortTime(item.start)}: ${rate === null ? "no attempts" : `${formatRate(rate)} of ${item.attempts}`}`,
    };
  });
  const latencyBars: Bar[] = series.map((item) => ({
    value: item.avg_duration_ms,
    label: `${formatShortTime(item.start)}: ${item.avg_duration_ms === null ? "no attempts" : formatMilliseconds(item.avg_duration_ms)}`,
  }));
  const worst = lowest(series);
  const slowest = highestLatency(series);

  return (
    <section className="stack-tight" aria-label={name}>
      <h3>{name}</h3>
      <p>
        Success rate <strong>{formatRate(window.success_rate)}</strong> ({window.succeeded} of {window.attempts}{" "}
        attempts), average latency <strong>{formatMilliseconds(window.avg_duration_ms)}</strong>.
      </p>
      <BarChart
        title={`Success rate per ${bucket}, ${name.toLowerCase()}`}
        summary={
          worst
            ? `Lowest: ${formatRate(worst.succeeded / worst.attempts)} at ${formatShortTime(worst.start)}.`
            : "No attempts in this period."
        }
        bars={rateBars}
        max={1}
        tone="rate"
      />
      <BarChart
        title={`Average latency per ${bucket}, ${name.toLowerCase()}`}
        summary={
          slowest
            ? `Slowest: ${formatMilliseconds(slowest.avg_duration_ms)} at ${formatShortTime(slowest.start)}.`
            : "No attempts in this period."
        }
        bars={latencyBars}
        max={Math.max(0, ...series.map((item) => item.avg_duration_ms ?? 0))}
        tone="latency"
      />
    </section>
  );
}

function lowest(series: StatsBucket[]): StatsBucket | undefined {
  const withAttempts = series.filter((item) => item.attempts > 0);
  return withAttempts.reduce<StatsBucket | undefined>(
    (worst, item) => (!worst || item.succeeded / item.attempts < worst.succeeded / worst.attempts ? item : worst),
    undefined,
  );
}

function highestLatency(series: StatsBucket[]): (StatsBucket & { avg_duration_ms: number }) | undefined {
  let slowest: (StatsBucket & { avg_duration_ms: number }) | undefined;
  for (const item of series) {
    if (item.avg_duration_ms !== null && (!slowest || item.avg_duration_ms > slowest.avg_duration_ms)) {
      slowest = { ...item, avg_duration_ms: item.avg_duration_ms };
    }
  }
  return slowest;
}
