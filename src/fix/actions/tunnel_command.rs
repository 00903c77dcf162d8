//! `tunnel-command`: the SSH tunnel to paste on the other device (read-only). User, host and
//! ports are validated and shell-quoted; the node's name and the backend port are read from the
//! daemon only when not given.

use crate::config::DEFAULT_BACKEND_PORT;
use crate::fix::{FixOptions, FixReport, Outcome};
use crate::tailscale::route::{AnyRoute, Route};
use crate::tailscale::serve::proxy_target_port;

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
    let mut remote = e.port.or(e.config_port);
    if let Some(route) = route.filter(|_| host.is_none() || remote.is_none()) {
        report.route = Some(route.describe());
        if host.is_none()
            && let Ok(st) = route.status().await
        {
            host = st.dns_name().map(str::to_string);
        }
        if remote.is_none()
            && let Ok(r) = route.serve_config().await
        {
            remote = r
                .config
                .mounts()
                .into_iter()
                .filter(|m| m.path == "/")
                .find_map(|m| m.proxy.as_deref().and_then(proxy_target_port));
        }
    }
    let Some(host) = host else {
        report.outcome = Outcome::Refused;
        report.message =
            "the node's name is not known (Tailscale not reachable): pass --host".into();
        return report;
    };
    let remote = remote.unwrap_or(DEFAULT_BACKEND_PORT);
    let local = given.local_port.or(e.tunnel_local_port).unwrap_or(remote);
    match crate::tunnel::command(&user, &host, local, remote) {
        Ok(cmd) => {
            report.outcome = Outcome::Done;
            report.url = Some(format!("http://localhost:{local}/"));
            report.message =
                format!("run this on the other device, then open http://localhost:{local}/ there");
            report.command = Some(cmd);
        }
        Err(err) => {
            report.outcome = Outcome::Refused;
            report.message = format!("not offered: {err}");
        }
    }
    report
}
