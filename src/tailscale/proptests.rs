//! Property tests over the parsers of what tailscaled sends: the status, the serve config and
//! the IPN bus messages. Whatever the bytes — random, any JSON value, or any JSON value in any
//! known field — parsing (and then reading the parsed value) returns, it never panics.

use proptest::prelude::*;
use serde_json::Value;

use super::localapi::Notify;
use super::{ServeConfig, Status};

/// Any JSON value, nested a few levels, with the strings the parsers look for among the keys.
pub(crate) fn json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        3 => proptest::sample::select(vec![
            "Self", "DNSName", "TailscaleIPs", "BackendState", "Health", "CertDomains", "TCP",
            "Web", "Handlers", "Proxy", "Text", "Path", "HTTPS", "HTTP", "TCPForward",
            "AllowFunnel", "Services", "Foreground", "State", "Engine", "NetMap", "443", "/",
            "box.ts.net:443", "CapMap", "Online", "TUN",
        ])
        .prop_map(String::from),
        1 => ".{0,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A healthy-looking document with `v` in place of one of its known fields.
pub(crate) fn with_field(path: &[&str], v: Value) -> Value {
    let mut doc = serde_json::json!({
        "BackendState": "Running",
        "Self": {"DNSName": "box.ts.net.", "TailscaleIPs": ["100.64.0.1"], "CapMap": {}},
        "TCP": {"443": {"HTTPS": true}},
        "Web": {"box.ts.net:443": {"Handlers": {"/": {"Proxy": "http://127.0.0.1:3000"}}}},
    });
    let mut at = &mut doc;
    for (i, k) in path.iter().enumerate() {
        if i + 1 == path.len() {
            at[*k] = v;
            break;
        }
        at = &mut at[*k];
    }
    doc
}

/// Parses `bytes` three ways and reads every parsed value the way the rules do.
fn parse_all(bytes: &[u8]) {
    if let Ok(s) = Status::from_json(bytes) {
        let _ = (s.dns_name(), s.ips(), s.tailnet(), s.has_cap("https"));
        let _ = (s.backend_state.is_running(), s.backend_state.as_str());
    }
    if let Ok(c) = ServeConfig::from_json(bytes) {
        let _ = (c.is_empty(), c.tcp_forwards());
        for m in c.mounts() {
            // (How the rules read a whole config is the diagnosis room's own property test.)
            let _ = super::serve::ProxyTarget::parse(m.proxy.as_deref().unwrap_or(""));
            if let Some(t) = &m.proxy {
                let _ = (
                    super::serve::proxy_target_port(t),
                    super::serve::proxy_target_addr(t),
                );
            }
        }
    }
    if let Ok(n) = Notify::from_json(bytes) {
        let _ = n.is_interesting();
    }
}

/// The settings of every property test here and in the rules': few enough cases to run in a
/// fraction of a second.
pub(crate) fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        // A failure is turned into a regular regression test, not a file beside the sources.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        parse_all(&bytes);
    }

    #[test]
    fn arbitrary_json_never_panics(v in json()) {
        parse_all(v.to_string().as_bytes());
    }

    #[test]
    fn arbitrary_json_in_a_known_field_never_panics(
        path in proptest::sample::select(vec![
            &["BackendState"][..], &["Self"], &["Self", "DNSName"], &["Self", "TailscaleIPs"],
            &["Self", "CapMap"], &["Self", "Online"], &["Health"], &["CertDomains"], &["TUN"],
            &["TCP"], &["TCP", "443"], &["Web"], &["Web", "box.ts.net:443"],
            &["Web", "box.ts.net:443", "Handlers"], &["AllowFunnel"], &["Services"],
            &["Foreground"], &["State"], &["NetMap"], &["Health"],
        ]),
        v in json(),
    ) {
        parse_all(with_field(path, v).to_string().as_bytes());
    }
}
