//! The table (and JSON) at the end of a run: each figure beside its same-run floor and the ratio.

use std::fmt::Write;

use serde_json::{Value, json};

use super::Target;
use super::load::Sample;

/// One measured figure.
#[derive(Debug, Clone)]
pub struct Row {
    pub target: String,
    /// `/s` for throughput, `ms` or `MB` for a single figure.
    pub unit: &'static str,
    pub value: f64,
    pub count: Option<usize>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub floor: Option<String>,
}

impl Row {
    /// A throughput with its latencies.
    pub(crate) fn rate(target: Target, sample: &Sample) -> Self {
        Self {
            target: target.name(),
            unit: "/s",
            value: sample.per_second(),
            count: Some(sample.count),
            p50_ms: Some(sample.percentile_ms(0.50)),
            p99_ms: Some(sample.percentile_ms(0.99)),
            floor: target.floor().map(Target::name),
        }
    }

    /// A throughput without per-item latencies (a backlog drained).
    pub(crate) fn drained(target: Target, count: usize, elapsed: std::time::Duration) -> Self {
        Self {
            target: target.name(),
            unit: "/s",
            value: count as f64 / elapsed.as_secs_f64(),
            count: Some(count),
            p50_ms: None,
            p99_ms: None,
            floor: target.floor().map(Target::name),
        }
    }

    pub(crate) fn single(target: String, unit: &'static str, value: f64) -> Self {
        Self { target, unit, value, count: None, p50_ms: None, p99_ms: None, floor: None }
    }
}

pub(crate) struct Report {
    rows: Vec<Row>,
    quick: bool,
}

impl Report {
    pub fn new(rows: Vec<Row>, quick: bool) -> Self {
        Self { rows, quick }
    }

    fn floor_of(&self, row: &Row) -> Option<&Row> {
        let floor = row.floor.as_deref()?;
        self.rows.iter().find(|r| r.target == floor)
    }

    fn ratio(&self, row: &Row) -> Option<f64> {
        self.floor_of(row).map(|floor| row.value / floor.value)
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let _ = writeln!(
            out,
            "\npayhub bench{} — {cores} cores, load generator in the same process; ratio = figure / same-run floor",
            if self.quick { " --quick (smoke: counts too small to quote)" } else { "" }
        );
        let _ = writeln!(
            out,
            "{:<26} {:>8} {:>12} {:>8} {:>8}  {:<18} {:>12} {:>7}",
            "target", "count", "figure", "p50 ms", "p99 ms", "floor", "floor fig.", "ratio"
        );
        for row in &self.rows {
            let floor = self.floor_of(row);
            let _ = writeln!(
                out,
                "{:<26} {:>8} {:>12} {:>8} {:>8}  {:<18} {:>12} {:>7}",
                row.target,
                row.count.map(|c| c.to_string()).unwrap_or_default(),
                figure(row.value, row.unit),
                row.p50_ms.map(|v| format!("{v:.2}")).unwrap_or_default(),
                row.p99_ms.map(|v| format!("{v:.2}")).unwrap_or_default(),
                row.floor.as_deref().unwrap_or("-"),
                floor.map(|f| figure(f.value, f.unit)).unwrap_or_default(),
                self.ratio(row).map(|r| format!("{r:.2}x")).unwrap_or_default(),
            );
        }
        out
    }

    pub fn to_json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                json!({
                    "target": row.target,
                    "unit": row.unit,
                    "value": row.value,
                    "count": row.count,
                    "p50_ms": row.p50_ms,
                    "p99_ms": row.p99_ms,
                    "floor": row.floor,
                    "floor_value": self.floor_of(row).map(|f| f.value),
                    "ratio": self.ratio(row),
                })
            })
            .collect();
        json!({ "quick": self.quick, "results": rows })
    }
}

fn figure(value: f64, unit: &str) -> String {
    match unit {
        "/s" => format!("{value:.0}/s"),
        _ => format!("{value:.1} {unit}"),
    }
}
