//! `tunnel-command`: the SSH tunnel to paste on the other device (read-only). User, host and
//! ports are validated and shell-quoted; the node's name is read from the daemon when not given.
//!
//! The tunnel aims where serve aims: the serve config's proxy target (a LAN or IPv6 host, a
//! unix socket, an HTTPS backend) is kept as it is; only without one does `--port` or the
//! config file's port on 127.0.0.1 stand in, and `--port` still wins when given.

use crate::config::DEFAULT_BACKEND_PORT;
use crate::fix::{FixOptions, FixReport, Outcome};
use crate::tailscale::ports::{served_target, tunnel_remote, tunnel_url};
use crate::tailscale::route::{AnyRoute, Route};

/// What the user gave on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Given {
    pub user: Option<String>,
    pub host: Option<String>,
    pub local_port: Option<u16>,
}

pub async fn run(
    mut report: FixReport,
    opts: &FixOptions,
    given: &Given,
    route: Option<&AnyRoute>,
) -> FixReport {
    let e = &opts.engine;
    let user = given
        .user
        .clone()
        .or_else(|| e.ssh_user.clone())
        .unwrap_or_else(crate::tunnel::default_user);
    let mut host = given.host.clone().or_else(|| e.ssh_host.clone());
    let mut target = e.port.map(|p| format!("http://127.0.0.1:{p}"));
    if let Some(route) = route.filter(|_| host.is_none() || target.is_none()) {
        report.route = Some(route.describe());
        if host.is_none()
            && let Ok(st) = route.status().await
        {
            host = st.dns_name().map(str::to_string);
        }
        if target.is_none()
            && let Ok(r) = route.serve_config().await
        {
            target = served_target(&r.config, None).map(|(t, _)| t);
        }
    }
    let Some(host) = host else {
        report.outcome = Outcome::Refused;
        report.message =
            "the node's name is not known (Tailscale not reachable): pass --host".into();
        return report;
    };
    let port = e.config_port.unwrap_or(DEFAULT_BACKEND_PORT);
    let target = target.unwrap_or_else(|| format!("http://127.0.0.1:{port}"));
    let Some(remote) = tunnel_remote(&target) else {
        report.outcome = Outcome::Refused;
        report.message = format!("serve proxies to {target}, which an SSH tunnel cannot reach");
        return report;
    };
    let remote_port = remote
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok());
    let local = given
        .local_port
        .or(e.tunnel_local_port)
        .or(remote_port)
        .unwrap_or(port);
    match crate::tunnel::command(&user, &host, local, &remote) {
        Ok(cmd) => {
            let url = tunnel_url(&target, local);
            report.outcome = Outcome::Done;
            report.message = format!(
                "run this on the other device, then open {url} there (the tunnel reaches {remote}, the backend serve proxies to)"
            );
            report.url = Some(url);
            report.command = Some(cmd);
        }
        Err(err) => {
            report.outcome = Outcome::Refused;
            report.message = format!("not offered: {err}");
        }
    }
    report
}
