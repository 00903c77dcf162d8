//! Edits of a serve config kept as raw JSON (`serde_json::Value`), not as our model, so that
//! fields this version does not know (newer handler kinds, `ProxyProtocol`, …) survive a
//! restore. Keys follow `ipn.ServeConfig`: `TCP` by port, `Web` and `AllowFunnel` by "host:port".

use serde_json::{Map, Value};

use crate::tailscale::serve::split_host_port;

/// The node names in `Web` and `AllowFunnel` keys (Service keys, "svc:…", are not nodes).
pub fn host_names(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = ["Web", "AllowFunnel"]
        .iter()
        .filter_map(|k| v.get(*k)?.as_object())
        .flat_map(|m| m.keys())
        .filter(|k| !k.starts_with("svc:"))
        .filter_map(|k| split_host_port(k).map(|(h, _)| h.to_string()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Host names in the config that are not `dns` (compared exactly, as tailscaled does).
pub fn foreign_hosts(v: &Value, dns: &str) -> Vec<String> {
    host_names(v).into_iter().filter(|h| h != dns).collect()
}

/// Removes `Foreground`: its session ids belong to terminals that are gone.
pub fn drop_foreground(v: &mut Value) {
    if let Some(m) = v.as_object_mut() {
        m.remove("Foreground");
    }
}

fn rekey(map: &mut Map<String, Value>, to: &str, merge: impl Fn(&mut Value, Value)) {
    let keys: Vec<String> = map.keys().cloned().collect();
    for k in keys {
        let Some((host, port)) = split_host_port(&k) else {
            continue;
        };
        if host == to || k.starts_with("svc:") {
            continue;
        }
        let Some(val) = map.remove(&k) else { continue };
        let new_key = format!("{to}:{port}");
        match map.get_mut(&new_key) {
            Some(existing) => merge(existing, val),
            None => {
                map.insert(new_key, val);
            }
        }
    }
}

/// Rewrites every `Web`/`AllowFunnel` key (and `TerminateTLS` SNI) naming another node to
/// `to`. Where both names exist, entries already under `to` win: they are the live ones.
pub fn rename_hosts(v: &mut Value, to: &str) {
    let old = host_names(v);
    let Some(root) = v.as_object_mut() else {
        return;
    };
    if let Some(web) = root.get_mut("Web").and_then(Value::as_object_mut) {
        rekey(web, to, |existing, incoming| {
            let (Some(ex), Some(inc)) = (
                existing.get_mut("Handlers").and_then(Value::as_object_mut),
                incoming.get("Handlers").and_then(Value::as_object),
            ) else {
                return;
            };
            for (path, h) in inc {
                ex.entry(path.clone()).or_insert_with(|| h.clone());
            }
        });
    }
    if let Some(af) = root.get_mut("AllowFunnel").and_then(Value::as_object_mut) {
        rekey(af, to, |_, _| {});
    }
    if let Some(tcp) = root.get_mut("TCP").and_then(Value::as_object_mut) {
        for h in tcp.values_mut() {
            if let Some(sni) = h.get_mut("TerminateTLS")
                && sni
                    .as_str()
                    .is_some_and(|s| s != to && old.iter().any(|o| o == s))
            {
                *sni = Value::String(to.to_string());
            }
        }
    }
}

/// Removes the handler at `host:port` `path`; an emptied web server goes with its Funnel flag,
/// and a port no web server uses any more loses its `TCP` entry (unless it is a TCP forward).
pub fn remove_mount(v: &mut Value, host: &str, port: u16, path: &str) {
    let Some(root) = v.as_object_mut() else {
        return;
    };
    let key = format!("{host}:{port}");
    let mut emptied = false;
    if let Some(web) = root.get_mut("Web").and_then(Value::as_object_mut) {
        if let Some(handlers) = web
            .get_mut(&key)
            .and_then(|w| w.get_mut("Handlers"))
            .and_then(Value::as_object_mut)
        {
            handlers.remove(path);
            emptied = handlers.is_empty();
        }
        if emptied {
            web.remove(&key);
        }
    }
    if emptied && let Some(af) = root.get_mut("AllowFunnel").and_then(Value::as_object_mut) {
        af.remove(&key);
    }
    let port_used = root.get("Web").and_then(Value::as_object).is_some_and(|w| {
        w.keys()
            .any(|k| split_host_port(k).is_some_and(|(_, p)| p == port))
    });
    if !port_used && let Some(tcp) = root.get_mut("TCP").and_then(Value::as_object_mut) {
        let p = port.to_string();
        let forward = tcp
            .get(&p)
            .and_then(|h| h.get("TCPForward"))
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        if !forward {
            tcp.remove(&p);
        }
    }
}

/// Drops what Go's `omitempty` drops (null, false, 0, "", {}, []), recursively, so that two
/// configs can be compared whoever encoded them.
pub fn normalize(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, val) in m {
                let n = normalize(val);
                let empty = match &n {
                    Value::Null | Value::Bool(false) => true,
                    Value::String(s) => s.is_empty(),
                    Value::Number(x) => x.as_f64() == Some(0.0),
                    Value::Object(o) => o.is_empty(),
                    Value::Array(a) => a.is_empty(),
                    Value::Bool(true) => false,
                };
                if !empty {
                    out.insert(k.clone(), n);
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

/// Whether two configs are the same config: equal once normalized, and `null` (a node never
/// configured, as the LocalAPI answers) the same as `{}` (after a reset, as the CLI prints it).
pub fn same(a: &Value, b: &Value) -> bool {
    normalize(a) == normalize(b) || (is_empty(a) && is_empty(b))
}

/// Whether a config holds nothing (`null`, `{}`, or only empty members).
pub fn is_empty(v: &Value) -> bool {
    match normalize(v) {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn multi() -> Value {
        json!({
            "TCP": {"2222": {"TCPForward": "127.0.0.1:22"}, "443": {"HTTPS": true}, "8443": {"HTTPS": true}},
            "Web": {
                "old.t.ts.net:443": {"Handlers": {"/": {"Proxy": "http://127.0.0.1:18080"}, "/docs/": {"Path": "/srv"}}},
                "new.t.ts.net:8443": {"Handlers": {"/": {"Proxy": "http://127.0.0.1:18081"}}}
            },
            "AllowFunnel": {"old.t.ts.net:443": true},
            "Foreground": {"s1": {}}
        })
    }

    #[test]
    fn null_and_empty_are_the_same_config() {
        assert!(same(&Value::Null, &json!({})));
        assert!(same(&json!({"TCP": null, "Web": {}}), &Value::Null));
        assert!(!same(
            &Value::Null,
            &json!({"TCP": {"443": {"HTTPS": true}}})
        ));
    }

    #[test]
    fn rename_moves_keys_and_keeps_the_rest() {
        let mut v = multi();
        assert_eq!(foreign_hosts(&v, "new.t.ts.net"), ["old.t.ts.net"]);
        rename_hosts(&mut v, "new.t.ts.net");
        assert!(foreign_hosts(&v, "new.t.ts.net").is_empty());
        assert_eq!(v["AllowFunnel"]["new.t.ts.net:443"], true);
        assert_eq!(
            v["Web"]["new.t.ts.net:443"]["Handlers"]["/docs/"]["Path"],
            "/srv"
        );
        drop_foreground(&mut v);
        assert!(v.get("Foreground").is_none());
    }

    #[test]
    fn removing_the_last_mount_of_a_port_removes_its_tcp_and_funnel() {
        let mut v = multi();
        remove_mount(&mut v, "old.t.ts.net", 443, "/");
        assert!(v["TCP"].get("443").is_some(), "/docs/ still uses 443");
        remove_mount(&mut v, "old.t.ts.net", 443, "/docs/");
        assert!(v["TCP"].get("443").is_none());
        assert!(v["AllowFunnel"].get("old.t.ts.net:443").is_none());
        assert_eq!(v["TCP"]["2222"]["TCPForward"], "127.0.0.1:22");
    }

    #[test]
    fn normalize_ignores_omitempty_noise() {
        let a =
            json!({"TCP": {"443": {"HTTPS": true, "HTTP": false}}, "Web": null, "AllowFunnel": {}});
        assert_eq!(normalize(&a), json!({"TCP": {"443": {"HTTPS": true}}}));
        assert!(is_empty(&json!(null)));
        assert!(is_empty(&json!({"Web": {}})));
    }
}
