//! A diagnosis from another device: `serve-doctor diagnose https://name.tailnet.ts.net/` run on
//! any node of the tailnet, looking at that node's serve from here.
//!
//! This node's tailscaled is read (with its peers) the way the engine reads it for a local
//! diagnosis; then the name is asked of MagicDNS and of the system resolver while the handshake
//! with the node's Tailscale IP runs (directly, or through `--socks5`), and one request goes
//! through serve once the handshake worked. Every step is bounded by `--timeout`; the reading is
//! `diagnosis::remote`'s.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::diagnosis::remote::Evidence;
use crate::diagnosis::remote_advice::assemble;
use crate::diagnosis::{Diagnosis, Step};
use crate::probe::{self, DnsOutcome, HttpOutcome, TlsOutcome, dns};
use crate::tailscale::route::{CliRoute, Route};

use super::{Engine, Options, ms_since};

/// Where MagicDNS is asked, `HOST:PORT` (tests stand a DNS server of their own in for
/// tailscaled's at 100.100.100.100). Not a user setting: on a real node the answer that matters
/// is tailscaled's own.
pub const MAGICDNS_ENV: &str = "SERVE_DOCTOR_MAGICDNS";

/// The one a resolver that does not answer may cost: the handshake runs meanwhile, and the
/// name is usually answered from a cache in milliseconds.
const DNS_BOUND: Duration = Duration::from_secs(2);

fn magicdns_server() -> SocketAddr {
    std::env::var(MAGICDNS_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(dns::MAGICDNS)
}

/// Diagnoses the serve behind `url` (or a node's name) from this device.
pub async fn diagnose_url(url: &str, opts: &Options) -> Diagnosis {
    match Engine::new(opts.clone()) {
        Ok(engine) => engine.diagnose_url(url).await,
        Err(e) => {
            let ev = Evidence::new(
                chrono::Utc::now(),
                url,
                opts.socks5.clone(),
                magicdns_server(),
            );
            assemble(&ev, format!("none ({e})"), 0)
        }
    }
}

/// This device's status with its peers, read once for every URL target of one run (`--all`):
/// one view of the netmap for all of them, and one read instead of one per target. Made anew
/// for each run, so nothing outlives it.
#[derive(Debug, Default)]
pub struct PeerView(tokio::sync::OnceCell<Option<PeerRead>>);

/// The route that answered, the status with peers, how long the read took.
type PeerRead = (
    String,
    Result<crate::tailscale::Status, crate::tailscale::CliFailure>,
    u64,
);

impl Engine {
    /// [`diagnose_url`] with this engine's trust store and cached discovery.
    pub async fn diagnose_url(&self, url: &str) -> Diagnosis {
        self.diagnose_url_in(url, &PeerView::default()).await
    }

    /// This device's status with peers over the LocalAPI, else the CLI; `None` with neither.
    async fn read_peers(&self) -> Option<PeerRead> {
        if let Some((api, _, status, ms)) = self.api_status(true).await {
            return Some((api.describe(), status, ms));
        }
        let l = self.locate().ok()?;
        let cli = CliRoute::new(&l.path, l.source.describe(), self.opts.timeout);
        let s = Instant::now();
        let status = cli.status_with_peers().await;
        Some((cli.describe(), status, ms_since(s)))
    }

    /// [`Engine::diagnose_url`] reading this device's status through `view`, which other
    /// targets of the same run share.
    pub async fn diagnose_url_in(&self, url: &str, view: &PeerView) -> Diagnosis {
        let start = Instant::now();
        let mut ev = Evidence::new(
            chrono::Utc::now(),
            url,
            self.opts.socks5.clone(),
            magicdns_server(),
        );
        let done = |ev: &Evidence, route: String| assemble(ev, route, ms_since(start));
        if ev.target.is_err() {
            return done(&ev, "none (nothing to diagnose)".into());
        }
        let Some((route, status, ms)) = view.0.get_or_init(|| self.read_peers()).await.clone()
        else {
            ev.no_tailscale = true;
            return done(&ev, "none (no LocalAPI, no CLI)".into());
        };
        ev.status = Step::Done { value: status, ms };
        if !ev.running() {
            return done(&ev, route);
        }
        // A node found by its name is dialed while the resolvers are asked; one that only a
        // resolver's address can identify waits for them.
        if ev.peer().is_some() {
            let (names, probes) = tokio::join!(self.lookups(&ev), self.probes(&ev));
            (ev.magicdns, ev.system) = names;
            (ev.tls, ev.request) = probes;
        } else {
            (ev.magicdns, ev.system) = self.lookups(&ev).await;
            (ev.tls, ev.request) = self.probes(&ev).await;
        }
        done(&ev, route)
    }

    /// MagicDNS and the system resolver, each asked for the name (none for an address).
    async fn lookups(&self, ev: &Evidence) -> (Step<DnsOutcome>, Step<DnsOutcome>) {
        let bound = self.opts.timeout.min(DNS_BOUND);
        let asked = |name: Option<String>, system: bool| async move {
            let Some(name) = name else {
                return Step::NotStarted;
            };
            let s = Instant::now();
            let value = match system {
                true => dns::system(&name, bound).await,
                false => dns::query(ev.magicdns_server, &name, bound).await,
            };
            Step::Done {
                value,
                ms: ms_since(s),
            }
        };
        let host = ev.target.as_ref().ok().filter(|t| !t.is_ip());
        tokio::join!(
            asked(ev.lookup_name(), false),
            asked(host.map(|t| t.host.clone()), true)
        )
    }

    /// The handshake with the node's Tailscale IP and, once it worked, one request through
    /// serve: each failed handshake makes the serving tailscaled try issuance again, so there is
    /// no second one.
    async fn probes(&self, ev: &Evidence) -> (Step<TlsOutcome>, Step<HttpOutcome>) {
        let (Some(dial), Some(sni), Ok(target)) = (ev.dial(), ev.server_name(), &ev.target) else {
            return (Step::NotStarted, Step::NotStarted);
        };
        if !ev.dialable() {
            return (Step::NotStarted, Step::NotStarted);
        }
        let (t, via, trust) = (self.opts.timeout, self.tailnet_via(), &self.trust);
        let s = Instant::now();
        let (tls, session) = probe::tls_session(&dial, &via, &sni, trust, t).await;
        let tls_ms = ms_since(s);
        let Some(session) = session else {
            return (
                Step::Done {
                    value: tls,
                    ms: tls_ms,
                },
                Step::NotStarted,
            );
        };
        let host = match target.port {
            443 => sni.clone(),
            p => format!("{sni}:{p}"),
        };
        // Over the connection just verified: no second handshake, here or on the node.
        let s = Instant::now();
        let value = probe::get_over(session, &host, &target.path, t).await;
        (
            Step::Done {
                value: tls,
                ms: tls_ms,
            },
            Step::Done {
                value,
                ms: ms_since(s),
            },
        )
    }
}
