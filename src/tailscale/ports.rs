//! What a serve port already does, and the proxy target serve uses: the two things a fix must
//! respect so that it is neither refused by tailscaled nor aimed somewhere else.
//!
//! tailscaled keeps a port's kind once set: a config that turns a port serving one kind into
//! another is refused (`validateServeConfigUpdate` in `ipn/ipnlocal/serve.go`: "want to serve
//! "https", but port 443 is already serving "tcp""), the CLI refuses a web handler on a TCP
//! forward ("cannot serve web; already serving TCP", `applyWebServe` in
//! `cmd/tailscale/cli/serve_v2.go`), and a background handler on a port a foreground session
//! holds ("foreground listener already exists for port N").

use super::serve::{ServeConfig, TcpPortHandler, proxy_target_addr, split_host_port};

/// The kinds tailscaled tells apart (`serveTypeFromPortHandler`), with its names for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortKind {
    Http,
    Https,
    TlsTerminatedTcp,
    Tcp,
}

impl PortKind {
    /// tailscaled's word, as in its refusals.
    pub fn as_str(self) -> &'static str {
        match self {
            PortKind::Http => "http",
            PortKind::Https => "https",
            PortKind::TlsTerminatedTcp => "tls-terminated-tcp",
            PortKind::Tcp => "tcp",
        }
    }
}

/// The kind of one `TCP` entry, checked in tailscaled's order (a web flag wins over a forward).
pub fn kind(h: &TcpPortHandler) -> Option<PortKind> {
    if h.http {
        Some(PortKind::Http)
    } else if h.https {
        Some(PortKind::Https)
    } else if !h.terminate_tls.is_empty() {
        Some(PortKind::TlsTerminatedTcp)
    } else if !h.tcp_forward.is_empty() {
        Some(PortKind::Tcp)
    } else {
        None
    }
}

/// Why a background handler of kind `want` on `port` would be refused, in words that say what
/// holds the port and how to free it; `None` when it would be accepted.
pub fn conflict(cfg: &ServeConfig, port: u16, want: PortKind) -> Option<String> {
    let key = port.to_string();
    if cfg.foreground.values().any(|fg| fg.tcp.contains_key(&key)) {
        return Some(format!(
            "port {port} is held by a foreground `tailscale serve` session (tailscaled refuses: \"foreground listener already exists for port {port}\"); stop that session (Ctrl+C in its terminal) or use another port"
        ));
    }
    let h = cfg.tcp.get(&key)?;
    let have = kind(h)?;
    if have == want {
        return None;
    }
    let what = match have {
        PortKind::Tcp | PortKind::TlsTerminatedTcp => {
            format!("forwards TCP to {}", h.tcp_forward)
        }
        PortKind::Http => "serves plain HTTP".to_string(),
        PortKind::Https => "serves HTTPS".to_string(),
    };
    let off = match have {
        PortKind::Tcp => format!("tailscale serve --tcp={port} off"),
        PortKind::TlsTerminatedTcp => format!("tailscale serve --tls-terminated-tcp={port} off"),
        PortKind::Http => format!("tailscale serve --http={port} off"),
        PortKind::Https => format!("tailscale serve --https={port} off"),
    };
    Some(format!(
        "port {port} already {what} (tailscaled refuses: \"want to serve \"{}\", but port {port} is already serving \"{}\"\"); to use this port for it, remove that entry first (`{off}`), or use another port",
        want.as_str(),
        have.as_str()
    ))
}

/// The first of `candidates` that a new background handler of kind `want` can take without
/// being refused and without replacing anything: no conflicting entry and no web handler there.
pub fn free(cfg: &ServeConfig, want: PortKind, candidates: &[u16]) -> Option<u16> {
    let webs = |c: &ServeConfig, p: u16| {
        c.web
            .keys()
            .any(|k| split_host_port(k).is_some_and(|(_, q)| q == p))
    };
    candidates.iter().copied().find(|p| {
        conflict(cfg, *p, want).is_none()
            && !webs(cfg, *p)
            && !cfg.foreground.values().any(|fg| webs(fg, *p))
    })
}

/// HTTPS ports to move to when the one wanted is taken: the Funnel defaults first, so the
/// endpoint can still be made public, then common alternatives.
pub const HTTPS_PORTS: [u16; 6] = [443, 8443, 10000, 4443, 9443, 10443];
/// Plain-HTTP ports, likewise.
pub const HTTP_PORTS: [u16; 5] = [80, 8080, 8000, 8081, 8888];

/// The proxy target serve uses, exactly as configured (scheme, host, port, path), and the port
/// it is served on: the background `/` proxy over HTTPS (on `port` when given), else any `/`
/// proxy, else any proxy handler. `None` when nothing proxies.
pub fn served_target(cfg: &ServeConfig, port: Option<u16>) -> Option<(String, u16)> {
    let mounts: Vec<_> = cfg.mounts().into_iter().filter(|m| !m.foreground).collect();
    let pick = |f: &dyn Fn(&&super::serve::WebMount) -> bool| {
        mounts
            .iter()
            .filter(|m| m.proxy.is_some())
            .find(f)
            .and_then(|m| Some((m.proxy.clone()?, m.port)))
    };
    pick(&|m| m.path == "/" && m.https && port.is_none_or(|p| p == m.port))
        .or_else(|| pick(&|m| m.path == "/" && m.https))
        .or_else(|| pick(&|m| m.path == "/"))
        .or_else(|| pick(&|_| true))
}

/// Where an SSH tunnel must point to reach what `target` reaches: `host:port` as serve dials it
/// (a bare port is IPv4 loopback), or the socket path of a `unix:` target.
pub fn tunnel_remote(target: &str) -> Option<String> {
    if let Some(path) = target.strip_prefix("unix:") {
        return (!path.is_empty()).then(|| path.to_string());
    }
    proxy_target_addr(target)
}

/// The address to open through a tunnel on `local`: the backend's own scheme (an HTTPS
/// backend stays HTTPS) and the target's path.
pub fn tunnel_url(target: &str, local: u16) -> String {
    let (scheme, rest) = match target.split_once("://") {
        Some((s, r)) if s.starts_with("https") => ("https", r),
        Some((_, r)) => ("http", r),
        None => ("http", target),
    };
    let path = if target.starts_with("unix:") {
        "/"
    } else {
        rest.find('/').map_or("/", |i| &rest[i..])
    };
    format!("{scheme}://localhost:{local}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(json: &str) -> ServeConfig {
        ServeConfig::from_json(json.as_bytes()).unwrap()
    }

    #[test]
    fn a_tcp_forward_keeps_its_port_and_the_refusal_says_how_to_free_it() {
        let c = cfg(
            r#"{"TCP":{"443":{"TCPForward":"127.0.0.1:22"},"8443":{"HTTPS":true},"80":{"HTTP":true},
                "5432":{"TCPForward":"127.0.0.1:5432","TerminateTLS":"box.t.ts.net"}},
                "Foreground":{"s1":{"TCP":{"10000":{"HTTPS":true}}}}}"#,
        );
        let why = conflict(&c, 443, PortKind::Https).unwrap();
        assert!(why.contains("forwards TCP to 127.0.0.1:22"), "{why}");
        assert!(why.contains("already serving \"tcp\""), "{why}");
        assert!(why.contains("tailscale serve --tcp=443 off"), "{why}");
        assert_eq!(conflict(&c, 8443, PortKind::Https), None);
        assert!(conflict(&c, 8443, PortKind::Http).is_some());
        assert!(
            conflict(&c, 80, PortKind::Https)
                .unwrap()
                .contains("--http=80 off")
        );
        assert_eq!(kind(&c.tcp["5432"]), Some(PortKind::TlsTerminatedTcp));
        assert!(
            conflict(&c, 10000, PortKind::Https)
                .unwrap()
                .contains("foreground")
        );
        assert_eq!(conflict(&c, 3000, PortKind::Https), None);
        // 8443 would be accepted but is not free: the handler there would be replaced.
        let with_web = cfg(
            r#"{"TCP":{"443":{"TCPForward":"127.0.0.1:22"},"8443":{"HTTPS":true}},
                "Web":{"box.t.ts.net:8443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:3000"}}}}}"#,
        );
        assert_eq!(free(&with_web, PortKind::Https, &HTTPS_PORTS), Some(10000));
        assert_eq!(free(&c, PortKind::Https, &HTTPS_PORTS), Some(8443));
        assert_eq!(free(&c, PortKind::Http, &HTTP_PORTS), Some(80));
    }

    #[test]
    fn the_served_target_is_kept_exactly_and_found_where_it_is() {
        let c = cfg(r#"{"TCP":{"8443":{"HTTPS":true},"80":{"HTTP":true}},
                "Web":{"old.t.ts.net:8443":{"Handlers":{"/":{"Proxy":"https+insecure://127.0.0.1:8443"},"/x":{"Text":"hi"}}},
                       "box.t.ts.net:80":{"Handlers":{"/app":{"Proxy":"http://192.168.1.20:8080/app"}}}}}"#);
        assert_eq!(
            served_target(&c, None),
            Some(("https+insecure://127.0.0.1:8443".into(), 8443))
        );
        let only_app = cfg(
            r#"{"TCP":{"80":{"HTTP":true}},"Web":{"box.t.ts.net:80":{"Handlers":{"/app":{"Proxy":"http://192.168.1.20:8080/app"}}}}}"#,
        );
        assert_eq!(
            served_target(&only_app, Some(443)),
            Some(("http://192.168.1.20:8080/app".into(), 80))
        );
        assert_eq!(served_target(&ServeConfig::default(), None), None);
    }

    #[test]
    fn tunnels_aim_where_serve_aims() {
        assert_eq!(
            tunnel_remote("http://192.168.1.20:8080").as_deref(),
            Some("192.168.1.20:8080")
        );
        assert_eq!(tunnel_remote("3000").as_deref(), Some("127.0.0.1:3000"));
        assert_eq!(
            tunnel_remote("http://[::1]:3000").as_deref(),
            Some("[::1]:3000")
        );
        assert_eq!(
            tunnel_remote("unix:/run/app.sock").as_deref(),
            Some("/run/app.sock")
        );
        assert_eq!(
            tunnel_url("https+insecure://127.0.0.1:8443", 9000),
            "https://localhost:9000/"
        );
        assert_eq!(
            tunnel_url("http://127.0.0.1:3000/app", 3000),
            "http://localhost:3000/app"
        );
        assert_eq!(
            tunnel_url("unix:/run/app.sock", 8080),
            "http://localhost:8080/"
        );
    }
}
