//! The jobs' own metrics, as CloudWatch embedded metric format (EMF) lines in the function's log:
//! CloudWatch Logs extracts them from the log group, so measuring the work costs no API call and
//! no permission beyond the logs the function writes anyway ("Using the embedded metric format
//! with Lambda": write EMF logs to standard output;
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Lambda.html>).
//!
//! A small writer rather than a crate: a line is one JSON object (`serde_json`, already here) in
//! the shape of the specification
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>),
//! and the crates that write it bring their own runtime and sinks for agents a Lambda function
//! does not have. tests/e2e/test_metrics.py validates the lines against the specification's schema.
//!
//! Dimensions stay few and low in cardinality: the job, and for a count by outcome the outcome
//! (`accept`, `reject`, `hold`…). Never an id: each dimension value is a metric of its own.

use serde_json::{Map, Value, json};
use std::io::Write;

/// The namespace of every metric of the stack.
pub const NAMESPACE: &str = "PrivateLinkAutopilot";
/// The metric a scheduled run that finished emits: the stack's heartbeat alarms watch it (a job
/// that stopped running is missing data, which they count as breaching).
pub const HEARTBEAT: &str = "ScheduledRunSucceeded";
/// The specification's bound on the metrics of one directive.
const MAX_METRICS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// One run's metrics: values by the job alone, and counts by the job and an outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    job: &'static str,
    values: Vec<(&'static str, f64, Unit)>,
    by_outcome: Vec<(&'static str, String, f64)>,
}

impl Metrics {
    /// `job`: `acceptor`, `associator`, `auditor` or `slack`.
    pub fn new(job: &'static str) -> Self {
        Metrics {
            job,
            values: Vec::new(),
            by_outcome: Vec::new(),
        }
    }

    pub fn count(mut self, name: &'static str, n: usize) -> Self {
        self.values.push((name, n as f64, Unit::Count));
        self
    }

    pub fn millis(mut self, name: &'static str, ms: u128) -> Self {
        self.values.push((name, ms as f64, Unit::Milliseconds));
        self
    }

    /// A count by outcome: one value per outcome seen (an outcome with none is not written).
    pub fn by_outcome(mut self, name: &'static str, outcome: impl Into<String>, n: usize) -> Self {
        self.by_outcome.push((name, outcome.into(), n as f64));
        self
    }

    /// The heartbeat, when the run was a scheduled one.
    pub fn heartbeat(self, scheduled: bool) -> Self {
        if scheduled {
            self.count(HEARTBEAT, 1)
        } else {
            self
        }
    }

    /// What every run adds to its own metrics (its duration since `started`, the calls throttled
    /// past the SDK's retries, the heartbeat when `scheduled`), then written to the log.
    pub fn finish(self, started: std::time::Instant, scheduled: bool) {
        self.millis("RunDuration", started.elapsed().as_millis())
            .count("AwsThrottled", crate::error::take_throttled())
            .heartbeat(scheduled)
            .emit();
    }

    /// Pure: the EMF lines, stamped `timestamp_ms` (milliseconds since the epoch).
    pub fn lines(&self, timestamp_ms: u64) -> Vec<String> {
        let mut out = Vec::new();
        for chunk in self.values.chunks(MAX_METRICS) {
            let mut line = self.line(
                timestamp_ms,
                &["Job"],
                chunk.iter().map(|(n, _, u)| (*n, *u)),
            );
            for (name, value, _) in chunk {
                line.insert((*name).into(), json!(value));
            }
            out.push(Value::Object(line).to_string());
        }
        let mut outcomes: Vec<&str> = self.by_outcome.iter().map(|(_, o, _)| o.as_str()).collect();
        outcomes.sort_unstable();
        outcomes.dedup();
        for outcome in outcomes {
            let of: Vec<_> = self
                .by_outcome
                .iter()
                .filter(|(_, o, _)| o == outcome)
                .collect();
            let mut line = self.line(
                timestamp_ms,
                &["Job", "Outcome"],
                of.iter().map(|(n, _, _)| (*n, Unit::Count)),
            );
            line.insert("Outcome".into(), json!(outcome));
            for (name, _, value) in of {
                line.insert((*name).into(), json!(value));
            }
            out.push(Value::Object(line).to_string());
        }
        out
    }

    fn line<'a>(
        &self,
        timestamp_ms: u64,
        dimensions: &[&str],
        metrics: impl Iterator<Item = (&'a str, Unit)>,
    ) -> Map<String, Value> {
        let metrics: Vec<Value> = metrics
            .map(|(name, unit)| json!({"Name": name, "Unit": unit.name()}))
            .collect();
        let mut line = Map::new();
        line.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [dimensions],
                    "Metrics": metrics,
                }],
            }),
        );
        line.insert("Job".into(), json!(self.job));
        line
    }

    /// Write the lines to standard output, where Lambda sends them to the log group.
    pub fn emit(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let mut out = std::io::stdout().lock();
        for line in self.lines(now) {
            // A metric lost to a closed stdout is not worth failing the run for.
            let _ = writeln!(out, "{line}");
        }
    }
}

/// Pure: whether an invocation's event is its EventBridge schedule firing (the runs whose
/// success is the heartbeat).
pub fn is_scheduled(event: &Value) -> bool {
    event.get("source").and_then(Value::as_str) == Some("aws.events")
        && event.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(m: &Metrics) -> Vec<Value> {
        m.lines(1_700_000_000_000)
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn values_by_job_and_counts_by_outcome_go_in_lines_of_their_own() {
        let m = Metrics::new("acceptor")
            .count("Decisions", 3)
            .millis("RunDuration", 1234)
            .by_outcome("Decisions", "accept", 2)
            .by_outcome("Decisions", "hold", 1)
            .heartbeat(true);
        let lines = parsed(&m);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["Job"], "acceptor");
        assert_eq!(lines[0]["Decisions"], 3.0);
        assert_eq!(lines[0]["RunDuration"], 1234.0);
        assert_eq!(lines[0][HEARTBEAT], 1.0);
        let directive = &lines[0]["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["Job"]]));
        assert_eq!(
            directive["Metrics"][1],
            json!({"Name": "RunDuration", "Unit": "Milliseconds"})
        );
        assert_eq!(lines[0]["_aws"]["Timestamp"], 1_700_000_000_000u64);
        assert_eq!(
            (lines[1]["Outcome"].as_str(), lines[1]["Decisions"].as_f64()),
            (Some("accept"), Some(2.0))
        );
        assert_eq!(
            lines[1]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Job", "Outcome"]])
        );
        assert_eq!(lines[2]["Outcome"], "hold");
    }

    #[test]
    fn an_event_run_has_no_heartbeat() {
        let lines = parsed(
            &Metrics::new("auditor")
                .count("FindingsOpened", 0)
                .heartbeat(false),
        );
        assert!(lines[0].get(HEARTBEAT).is_none());
    }

    #[test]
    fn more_metrics_than_a_directive_takes_are_split() {
        let mut m = Metrics::new("auditor");
        for i in 0..(MAX_METRICS + 1) {
            m = m.count(Box::leak(format!("M{i}").into_boxed_str()), i);
        }
        let lines = parsed(&m);
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .len(),
            MAX_METRICS
        );
    }

    #[test]
    fn only_a_schedule_firing_is_scheduled() {
        assert!(is_scheduled(
            &json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
        ));
        assert!(!is_scheduled(
            &json!({"source": "aws.ec2", "detail-type": "AWS API Call via CloudTrail"})
        ));
        assert!(!is_scheduled(&json!({"Records": []})));
    }
}
