//! (v3) The service's own CloudWatch metrics, as Embedded Metric Format: the log line
//! that records the event carries the metric, and CloudWatch Logs extracts it (no API
//! call). Namespace: `METRICS_NAMESPACE` (the template sets the stack's name), else
//! `OrganizationService`; no dimensions, so each metric is one series per stack.

use serde_json::{Map, Value, json};

/// Writes one JSON log line for `message` that also counts 1 of each of `metrics`
/// (unit `Count`), with `fields` beside them.
pub fn count(message: &str, metrics: &[&str], fields: Value) {
    // One write of the whole line, as the tracing layer writes its own.
    println!("{}", line(message, metrics, fields));
}

/// The line [`count`] writes.
fn line(message: &str, metrics: &[&str], fields: Value) -> Value {
    let namespace =
        std::env::var("METRICS_NAMESPACE").unwrap_or_else(|_| "OrganizationService".into());
    let names: Vec<Value> = metrics
        .iter()
        .map(|m| json!({ "Name": m, "Unit": "Count" }))
        .collect();
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": mongodb::bson::DateTime::now().timestamp_millis(),
            "CloudWatchMetrics": [{ "Namespace": namespace, "Dimensions": [[]], "Metrics": names }],
        }),
    );
    line.insert("level".into(), json!("INFO"));
    line.insert("message".into(), json!(message));
    for metric in metrics {
        line.insert((*metric).into(), json!(1));
    }
    if let Value::Object(extra) = fields {
        line.extend(extra);
    }
    Value::Object(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_carries_its_metrics_in_embedded_metric_format() {
        let line = line("webhook attempt", &["A", "B"], json!({ "ok": false }));
        let spec = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(spec["Metrics"][1], json!({ "Name": "B", "Unit": "Count" }));
        assert_eq!(spec["Dimensions"], json!([[]]));
        assert!(spec["Namespace"].is_string());
        assert!(line["_aws"]["Timestamp"].as_i64().unwrap() > 0);
        assert_eq!((line["A"].clone(), line["B"].clone()), (json!(1), json!(1)));
        assert_eq!(line["message"], "webhook attempt");
        assert_eq!(line["ok"], false);
    }
}
