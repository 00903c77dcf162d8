//! tailscaled's structured health state, `{"Warnings": {code: {WarnableCode, Title, Text, …}}}`,
//! as the IPN bus sends it (`health.State`). There is no LocalAPI endpoint for it; the status
//! JSON carries only the warnings' texts.

use serde_json::Value;

/// The warning tailscaled raises while it fetches a certificate it has no usable copy of
/// (1.100+; `tsconst.HealthWarnableTLSCertPending`). Tailscale's own `tailscale cert` watches
/// for this code on the bus.
pub const TLS_CERT_PENDING: &str = "tls-cert-pending";

/// The codes of the warnings in a health state (`Warnings` is `null` when healthy).
pub fn warning_codes(health: &Value) -> Vec<String> {
    let Some(warnings) = health.get("Warnings").and_then(Value::as_object) else {
        return vec![];
    };
    warnings
        .iter()
        .map(|(key, w)| {
            w.get("WarnableCode")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty())
                .unwrap_or(key)
                .to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn codes_come_from_the_warnings_map() {
        let h = json!({"Warnings": {
            "tls-cert-pending": {"WarnableCode": "tls-cert-pending", "Severity": "low",
                "Title": "Fetching TLS certificate", "Text": "Fetching TLS certificate via ACME for: box.t.ts.net"},
            "dns-read-os-config-failed": {"Severity": "medium"}
        }});
        let codes = warning_codes(&h);
        assert!(codes.iter().any(|c| c == TLS_CERT_PENDING));
        assert!(codes.iter().any(|c| c == "dns-read-os-config-failed"));
        assert!(warning_codes(&json!({"Warnings": null})).is_empty());
        assert!(warning_codes(&json!([1, 2])).is_empty());
    }
}
