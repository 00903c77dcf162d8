//! Tolerant serde model of the node's serve config (`tailscale serve status --json`, `ipn.ServeConfig`).
//!
//! The model is read-only on purpose: backups and restores keep the raw JSON text so that fields
//! this model does not know (newer handler kinds, `ProxyProtocol`, …) survive a round trip.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::status::nullable;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ServeConfig {
    /// Keyed by port as a string ("443").
    #[serde(default, rename = "TCP", deserialize_with = "nullable")]
    pub tcp: BTreeMap<String, TcpPortHandler>,
    /// Keyed by "host:port".
    #[serde(default, deserialize_with = "nullable")]
    pub web: BTreeMap<String, WebServerConfig>,
    #[serde(default, deserialize_with = "nullable")]
    pub allow_funnel: BTreeMap<String, bool>,
    /// Keyed by "svc:name". Kept opaque: Services are not node-level serve.
    #[serde(default, deserialize_with = "nullable")]
    pub services: BTreeMap<String, serde_json::Value>,
    /// Keyed by IPN-bus session id: configs of `tailscale serve` runs without `--bg`, which live
    /// only as long as that terminal.
    #[serde(default, deserialize_with = "nullable")]
    pub foreground: BTreeMap<String, ServeConfig>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct TcpPortHandler {
    #[serde(default, rename = "HTTPS")]
    pub https: bool,
    #[serde(default, rename = "HTTP")]
    pub http: bool,
    #[serde(default, rename = "TCPForward", deserialize_with = "nullable")]
    pub tcp_forward: String,
    #[serde(default, rename = "TerminateTLS", deserialize_with = "nullable")]
    pub terminate_tls: String,
    /// PROXY protocol version sent to a forward's target (0: none).
    #[serde(default, rename = "ProxyProtocol", deserialize_with = "nullable")]
    pub proxy_protocol: u64,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct WebServerConfig {
    /// Mount path → handler.
    #[serde(default, deserialize_with = "nullable")]
    pub handlers: BTreeMap<String, HttpHandler>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct HttpHandler {
    #[serde(default, deserialize_with = "nullable")]
    pub proxy: String,
    #[serde(default, deserialize_with = "nullable")]
    pub path: String,
    #[serde(default, deserialize_with = "nullable")]
    pub text: String,
    #[serde(default, deserialize_with = "nullable")]
    pub redirect: String,
}

impl HttpHandler {
    /// What the handler does, the way `tailscale serve status` prints it.
    pub fn describe(&self) -> String {
        if !self.proxy.is_empty() {
            format!("proxy {}", self.proxy)
        } else if !self.path.is_empty() {
            format!("path {}", self.path)
        } else if !self.text.is_empty() {
            format!("text {:?}", self.text)
        } else if !self.redirect.is_empty() {
            format!("redirect {}", self.redirect)
        } else {
            "unknown handler".to_string()
        }
    }
}

/// One mount of one web server, flattened for listing and comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebMount {
    pub host: String,
    pub port: u16,
    pub path: String,
    pub what: String,
    /// Proxy target, if it is a proxy handler.
    pub proxy: Option<String>,
    pub https: bool,
    pub funnel: bool,
    /// Lives under `Foreground` only (dies with the terminal that started it).
    pub foreground: bool,
}

impl ServeConfig {
    /// Parses `serve status --json` output; `null`, `{}` and empty output all mean "no config".
    pub fn from_json(bytes: &[u8]) -> Result<ServeConfig, serde_json::Error> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(ServeConfig::default());
        }
        super::expect_object(bytes, true)?;
        Ok(
            Option::<ServeConfig>::deserialize(&mut serde_json::Deserializer::from_slice(bytes))?
                .unwrap_or_default(),
        )
    }

    /// True when there is nothing node-level at all (Services are not node-level serve).
    pub fn is_empty(&self) -> bool {
        self.tcp.is_empty()
            && self.web.is_empty()
            && self.allow_funnel.is_empty()
            && self.foreground.values().all(ServeConfig::is_empty)
    }

    /// Every web mount, background first, then those under `Foreground`.
    pub fn mounts(&self) -> Vec<WebMount> {
        let mut out = Vec::new();
        self.collect_mounts(false, &mut out);
        for fg in self.foreground.values() {
            fg.collect_mounts(true, &mut out);
        }
        out
    }

    fn collect_mounts(&self, foreground: bool, out: &mut Vec<WebMount>) {
        for (hostport, web) in &self.web {
            let Some((host, port)) = split_host_port(hostport) else {
                continue;
            };
            let tcp = self.tcp.get(&port.to_string());
            for (path, h) in &web.handlers {
                out.push(WebMount {
                    host: host.to_string(),
                    port,
                    path: path.clone(),
                    what: h.describe(),
                    proxy: (!h.proxy.is_empty()).then(|| h.proxy.clone()),
                    https: tcp.is_some_and(|t| t.https),
                    funnel: self.allow_funnel.get(hostport).copied().unwrap_or(false),
                    foreground,
                });
            }
        }
    }

    /// TCP forwards ("port → target") in the background config, for listings.
    pub fn tcp_forwards(&self) -> Vec<(u16, String)> {
        self.tcp
            .iter()
            .filter(|(_, t)| !t.tcp_forward.is_empty())
            .filter_map(|(p, t)| Some((p.parse().ok()?, t.tcp_forward.clone())))
            .collect()
    }
}

/// Splits "host:port" (the last colon wins, so IPv6-less names only, as serve keys are).
pub fn split_host_port(s: &str) -> Option<(&str, u16)> {
    let (h, p) = s.rsplit_once(':')?;
    Some((h, p.parse().ok()?))
}

/// The port a proxy target points at: `http://127.0.0.1:18080`, `localhost:3000`, `3000`.
pub fn proxy_target_port(target: &str) -> Option<u16> {
    let rest = target.split_once("://").map_or(target, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.rsplit_once(':') {
        Some((_, p)) => p.parse().ok(),
        None => authority.parse().ok(),
    }
}

/// How serve talks to a proxy target, by its scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// `http://` (and a bare port or host:port).
    Http,
    /// `https://`: serve verifies the backend's certificate against the system roots, for the
    /// host named in the target (an IP needs an IP SAN).
    Https,
    /// `https+insecure://`: TLS without verification.
    HttpsInsecure,
    /// `unix:/path`: HTTP over a unix socket.
    Unix,
}

/// A proxy target as serve dials it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyTarget {
    pub scheme: Scheme,
    /// "host:port" for TCP schemes, the socket path for `unix:`.
    pub addr: String,
    /// The host serve names in `Host` and, for `https`, verifies the certificate for.
    pub host: String,
    /// The target's path prefix ("" when none).
    pub path: String,
}

impl ProxyTarget {
    /// Parses a handler's `Proxy` value; `None` when it is not one serve could dial.
    pub fn parse(target: &str) -> Option<ProxyTarget> {
        if let Some(path) = target.strip_prefix("unix:") {
            let path = path.trim_start_matches("//");
            return (!path.is_empty()).then(|| ProxyTarget {
                scheme: Scheme::Unix,
                addr: path.to_string(),
                host: "localhost".into(),
                path: String::new(),
            });
        }
        let (scheme, rest) = match target.split_once("://") {
            Some(("http", r)) => (Scheme::Http, r),
            Some(("https", r)) => (Scheme::Https, r),
            Some(("https+insecure", r)) => (Scheme::HttpsInsecure, r),
            Some(_) => return None,
            None => (Scheme::Http, target),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let addr = proxy_target_addr(&format!(
            "{}://{authority}",
            match scheme {
                Scheme::Http => "http",
                _ => "https",
            }
        ))?;
        let host = match addr.rsplit_once(':') {
            Some((h, _)) => h.trim_start_matches('[').trim_end_matches(']').to_string(),
            None => addr.clone(),
        };
        Some(ProxyTarget {
            scheme,
            addr,
            host,
            path: path.to_string(),
        })
    }

    /// What the user would recognise: "https://127.0.0.1:8443", "unix:/run/app.sock".
    pub fn describe(&self) -> String {
        match self.scheme {
            Scheme::Http => format!("http://{}", self.addr),
            Scheme::Https => format!("https://{}", self.addr),
            Scheme::HttpsInsecure => format!("https+insecure://{}", self.addr),
            Scheme::Unix => format!("unix:{}", self.addr),
        }
    }
}

/// The host:port a proxy target dials, with the defaults `tailscale serve` applies
/// (a bare port means IPv4 loopback). `None` for unix sockets and unparseable targets.
pub fn proxy_target_addr(target: &str) -> Option<String> {
    if target.starts_with("unix:") {
        return None;
    }
    let (scheme, rest) = target.split_once("://").unwrap_or(("http", target));
    let authority = rest.split('/').next().unwrap_or(rest);
    if authority.is_empty() {
        return None;
    }
    if let Ok(port) = authority.parse::<u16>() {
        return Some(format!("127.0.0.1:{port}"));
    }
    if authority
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .is_some()
    {
        return Some(authority.to_string());
    }
    let default = if scheme.starts_with("https") { 443 } else { 80 };
    Some(format!("{authority}:{default}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_targets_parse_as_serve_dials_them() {
        let t = |s: &str| ProxyTarget::parse(s).map(|t| (t.scheme, t.addr, t.host, t.path));
        assert_eq!(
            t("3000"),
            Some((
                Scheme::Http,
                "127.0.0.1:3000".into(),
                "127.0.0.1".into(),
                "".into()
            ))
        );
        assert_eq!(
            t("https+insecure://localhost:8443/app"),
            Some((
                Scheme::HttpsInsecure,
                "localhost:8443".into(),
                "localhost".into(),
                "/app".into()
            ))
        );
        assert_eq!(
            t("https://192.168.1.20"),
            Some((
                Scheme::Https,
                "192.168.1.20:443".into(),
                "192.168.1.20".into(),
                "".into()
            ))
        );
        assert_eq!(
            t("unix:/run/app.sock").map(|t| (t.0, t.1)),
            Some((Scheme::Unix, "/run/app.sock".into()))
        );
        assert_eq!(t("ftp://x:1"), None);
        assert_eq!(t("unix:"), None);
    }

    #[test]
    fn empty_forms_parse_to_empty() {
        for s in ["", "null", "{}", " null\n"] {
            let c = ServeConfig::from_json(s.as_bytes()).unwrap();
            assert!(c.is_empty(), "{s:?}");
        }
    }

    #[test]
    fn a_top_level_value_that_is_not_an_object_is_refused() {
        for not_an_object in ["[]", "[1]", "\"x\"", "3", "true"] {
            assert!(
                ServeConfig::from_json(not_an_object.as_bytes()).is_err(),
                "{not_an_object}"
            );
            assert!(
                crate::tailscale::Status::from_json(not_an_object.as_bytes()).is_err(),
                "{not_an_object}"
            );
        }
    }

    #[test]
    fn mounts_cover_background_foreground_and_funnel() {
        let c = ServeConfig::from_json(
            br#"{"TCP":{"443":{"HTTPS":true},"8443":{"HTTPS":true},"2222":{"TCPForward":"127.0.0.1:22"}},
                "Web":{"box.t.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:18080"},"/docs":{"Path":"/srv"}}}},
                "AllowFunnel":{"box.t.ts.net:443":true},
                "Services":{"svc:x":{}},
                "Foreground":{"abc":{"TCP":{"8443":{"HTTPS":true}},"Web":{"box.t.ts.net:8443":{"Handlers":{"/":{"Text":"hi"}}}}}}}"#,
        )
        .unwrap();
        let m = c.mounts();
        assert_eq!(m.len(), 3);
        assert!(m[0].funnel && m[0].https && !m[0].foreground);
        assert_eq!(m[0].proxy.as_deref(), Some("http://127.0.0.1:18080"));
        assert_eq!(m[1].what, "path /srv");
        assert!(m[2].foreground && m[2].port == 8443);
        assert_eq!(c.tcp_forwards(), vec![(2222, "127.0.0.1:22".to_string())]);
    }

    #[test]
    fn proxy_targets() {
        assert_eq!(proxy_target_port("http://127.0.0.1:18080"), Some(18080));
        assert_eq!(proxy_target_port("localhost:3000/x"), Some(3000));
        assert_eq!(proxy_target_port("3000"), Some(3000));
        assert_eq!(proxy_target_addr("3000").as_deref(), Some("127.0.0.1:3000"));
        assert_eq!(
            proxy_target_addr("https+insecure://localhost:8443").as_deref(),
            Some("localhost:8443")
        );
        assert_eq!(
            proxy_target_addr("http://example.lan").as_deref(),
            Some("example.lan:80")
        );
        assert_eq!(proxy_target_addr("unix:/tmp/s.sock"), None);
    }
}
