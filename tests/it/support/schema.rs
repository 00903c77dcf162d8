//! The JSON report's schema (docs/report.schema.json), compiled once: every report the tests
//! produce is checked against it.

use std::sync::OnceLock;

use serde_json::Value;

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/report.schema.json"
        ))
        .unwrap();
        let schema: Value = serde_json::from_str(&text).unwrap();
        jsonschema::validator_for(&schema).unwrap()
    })
}

/// Panics, naming every violation, when `report` (one diagnosis, or a `--all` report whose
/// targets each hold one) does not match the schema.
pub fn check(report: &Value) {
    let one = |d: &Value| {
        let errors: Vec<String> = validator()
            .iter_errors(d)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "report does not match docs/report.schema.json: {errors:#?}\n{d:#}"
        );
    };
    match report.get("targets").and_then(Value::as_array) {
        Some(targets) => targets
            .iter()
            .filter_map(|t| t.get("diagnosis"))
            .filter(|d| !d.is_null())
            .for_each(one),
        None => one(report),
    }
}
