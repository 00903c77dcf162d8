//! The conductor: gathers evidence concurrently and stops as soon as the verdict is certain.
//!
//! Steps run as tokio tasks in one `JoinSet`. After each one finishes the evidence is updated,
//! newly possible probes are started (TLS and backend once status and serve config are known,
//! the request through serve once TLS works), a provisional diagnosis goes to the caller, and
//! the pure rules are asked whether the verdict is already certain. If it is (and `--full` was
//! not given), everything still running is cancelled: dropping a task kills any CLI process group
//! it started, so a hung `tailscale cert` or a 60-second handshake stall costs nothing.
//!
//! Routes to tailscaled: the LocalAPI (discovered once and cached, re-discovered after a
//! failure) unless `--tailscale` forces the CLI; the CLI is the fallback when the daemon's API
//! cannot be reached; `--socket` forces the LocalAPI. Every diagnosis names the route it used.
//! A caller can give the route instead ([`Options::route`]): [`diagnose_ssh`] gives an SSH
//! route, whose node's loopback is reached through the same connection.

use std::ffi::OsString;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::diagnosis::{
    self, Diagnosis, Evidence, Inputs, Platform, ProbePlan, Step, endpoints, rules,
};
use crate::probe::{self, HttpOutcome, TcpOutcome, TlsOutcome, TlsSession, Trust, Via};
use crate::tailscale::localapi::{self, Discovery, LocalApi, Roots};
use crate::tailscale::route::{AnyRoute, ApiRoute, CliRoute, Route, SshRoute, api_failure};
use crate::tailscale::ssh::{BadTarget, Session, SshTarget};
use crate::tailscale::{self, CertCommand, CliFailure, ServeConfig, Status};

mod url;
pub use url::{MAGICDNS_ENV, PeerView, diagnose_url};

/// Everything a run can be told, after flags have been merged over the config file
/// ([`crate::settings::resolve`]).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--tailscale PATH`: forces this CLI (and the CLI route).
    pub tailscale: Option<PathBuf>,
    /// `--socket PATH` (or the config's `socket_path`): forces the LocalAPI route on this socket.
    pub socket: Option<PathBuf>,
    /// The config file's `tailscale_path` (used when there is no flag).
    pub config_tailscale: Option<PathBuf>,
    /// `--connect HOST:PORT`.
    pub connect: Option<String>,
    /// `--socks5 HOST:PORT`: the node's tailnet addresses are dialed through this proxy.
    pub socks5: Option<String>,
    /// How the node's own loopback (its backends, its forwards' targets) is reached: directly
    /// for this node, through the SSH connection for a remote one.
    pub node_via: Via,
    /// The route to use instead of picking one (an SSH session's): the engine's reads and the
    /// fix pipeline go through it, and `--deep` is not run (its CLI would be this machine's).
    pub route: Option<AnyRoute>,
    /// `--ca-file PEM`.
    pub ca_file: Option<PathBuf>,
    /// `--port`; the config file's value is kept apart to report where the port came from.
    pub port: Option<u16>,
    pub config_port: Option<u16>,
    /// Bound for each network step and each CLI call.
    pub timeout: Duration,
    /// Wait for every probe even when the verdict is certain.
    pub full: bool,
    /// Also run `tailscale cert` (bounded).
    pub deep: bool,
    /// SSH tunnel defaults from the config.
    pub ssh_user: Option<String>,
    pub ssh_host: Option<String>,
    pub tunnel_local_port: Option<u16>,
}

/// Why a run could not even start (bad input, not a diagnosis).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Trust(#[from] crate::probe::TrustError),
    #[error(transparent)]
    Ssh(#[from] BadTarget),
}

/// `opts` for the node at the other end of `session`: its route, and its loopback reached
/// through the session's forward. The TLS check and the request through serve still go from
/// here across the tailnet: that is the view of a client.
pub fn over_ssh(opts: &Options, session: &Session) -> Options {
    let mut o = opts.clone();
    o.route = Some(AnyRoute::Ssh(SshRoute::new(session)));
    o.node_via = session
        .socks5()
        .map_or(Via::Direct, |p| Via::Socks5(p.to_string()));
    o
}

/// Diagnoses the node at `dest` (`[user@]host[:port]`, see [`SshTarget`]) over one SSH
/// connection, with `opts` (`opts.tailscale` is the node's CLI path). A refused destination or
/// an unreadable `--ca-file` is an error; everything else, ssh not getting in included, is in
/// the diagnosis.
pub async fn diagnose_ssh(dest: &str, opts: &Options) -> Result<Diagnosis, EngineError> {
    let target = SshTarget::new(dest)?;
    let engine = Engine::new(opts.clone())?;
    Ok(engine.diagnose_ssh(&target, |_| {}).await)
}

/// A reusable diagnosis runner: the trust store is loaded once, not on every poll.
pub struct Engine {
    opts: Options,
    trust: Arc<Trust>,
    /// For `https+insecure://` backends: accepts any certificate, as serve does for them.
    insecure: Arc<Trust>,
    path_env: Option<OsString>,
    /// Where discovery found the LocalAPI, cached between runs (discovery can spawn `lsof`).
    discovery: tokio::sync::Mutex<Option<Discovery>>,
    roots: Roots,
}

/// A finished step, sent back from its task.
enum Done {
    // Boxed: a Status is large and the other variants travel through the same JoinSet.
    Status(Box<Result<Status, CliFailure>>, u64),
    Serve(Result<(ServeConfig, String), CliFailure>, u64),
    /// With the connection, when the handshake was established: the request through serve
    /// goes over it.
    Tls(TlsOutcome, u64, Option<TlsSession>),
    Backend(HttpOutcome, u64),
    Via(HttpOutcome, u64),
    Cert(CertCommand, u64),
    /// A probe of another endpoint, by its URL.
    Endpoint(String, EndpointDone, u64),
}

/// The connections of one diagnosis whose handshake was established and that no request has
/// used yet. Each carries one request (`Connection: close`); a request with none for its
/// address and name dials anew. Dropped with the diagnosis, which closes what is left.
#[derive(Debug, Default)]
struct SpareConnections(Vec<TlsSession>);

impl SpareConnections {
    fn keep(&mut self, session: Option<TlsSession>) {
        self.0.extend(session);
    }

    fn take(&mut self, addr: &str, server_name: &str) -> Option<TlsSession> {
        let i = self
            .0
            .iter()
            .position(|s| s.key().0 == addr && s.key().1 == server_name)?;
        Some(self.0.swap_remove(i))
    }
}

/// What a probe of another endpoint found.
enum EndpointDone {
    Listener(TcpOutcome),
    Tls(TlsOutcome, Option<TlsSession>),
    Request(HttpOutcome),
    Backend(HttpOutcome),
    Forward(TcpOutcome),
}

/// How long a "not connected to control" reading is given to clear before it is believed.
/// tailscaled's `Self.Online` only says whether a map poll is active right now, and it drops to
/// false for some 40 ms whenever the poll restarts (seen on the real-tailnet bench, e.g. on
/// `tailscale up --force-reauth`); a reading in that gap would turn the icon yellow for nothing.
pub const ONLINE_SETTLE: Duration = Duration::from_millis(300);

/// Whether `s` shows a running node that is not connected to control: then the caller waits
/// [`ONLINE_SETTLE`] (here) and reads the status again (one extra read, only in that case).
async fn settle_online(s: &Status) -> bool {
    let offline =
        s.backend_state.is_running() && s.self_node.as_ref().and_then(|n| n.online) == Some(false);
    if offline {
        tokio::time::sleep(ONLINE_SETTLE).await;
    }
    offline
}

fn ms_since(t: Instant) -> u64 {
    t.elapsed().as_millis() as u64
}

impl Engine {
    pub fn new(opts: Options) -> Result<Engine, EngineError> {
        let trust = match &opts.ca_file {
            Some(p) => Trust::with_extra_pem_file(p)?,
            None => Trust::system()?,
        };
        Ok(Engine {
            opts,
            trust: Arc::new(trust),
            insecure: Arc::new(Trust::accept_any()?),
            path_env: std::env::var_os("PATH"),
            discovery: tokio::sync::Mutex::new(None),
            roots: Roots::system(),
        })
    }

    /// Replaces where discovery looks (tests stand temp directories in for `/`).
    pub fn with_roots(mut self, roots: Roots) -> Engine {
        self.roots = roots;
        self
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// [`Engine::diagnose`] of the node `target` over one SSH connection, opened and closed
    /// here (the trust store is this engine's).
    pub async fn diagnose_ssh(
        &self,
        target: &SshTarget,
        progress: impl FnMut(&Diagnosis) + Send,
    ) -> Diagnosis {
        let session =
            Session::open(target, self.opts.tailscale.as_deref(), self.opts.timeout).await;
        let remote = Engine {
            opts: over_ssh(&self.opts, &session),
            trust: self.trust.clone(),
            insecure: self.insecure.clone(),
            path_env: self.path_env.clone(),
            discovery: tokio::sync::Mutex::new(None),
            roots: self.roots.clone(),
        };
        let d = remote.diagnose(progress).await;
        session.close().await;
        d
    }

    /// How this machine reaches the node's tailnet addresses.
    fn tailnet_via(&self) -> Via {
        match &self.opts.socks5 {
            Some(proxy) => Via::Socks5(proxy.clone()),
            None => Via::Direct,
        }
    }

    /// The CLI this engine would use, if any.
    pub fn locate(&self) -> Result<tailscale::Located, tailscale::NotFound> {
        tailscale::locate(
            self.opts.tailscale.as_deref(),
            self.opts.config_tailscale.as_deref(),
            self.path_env.as_deref(),
        )
    }

    fn inputs(&self) -> Inputs {
        Inputs {
            port_flag: self.opts.port,
            config_port: self.opts.config_port,
            connect: self.opts.connect.clone(),
            socks5: self.opts.socks5.clone(),
            deep: self.opts.deep,
            ssh_user: self.opts.ssh_user.clone(),
            ssh_host: self.opts.ssh_host.clone(),
            tunnel_local_port: self.opts.tunnel_local_port,
            default_user: crate::tunnel::default_user(),
        }
    }

    /// Runs the chain. `progress` is called with a provisional diagnosis (checks still running
    /// are `Pending`) every time a step finishes; the final result is returned.
    pub async fn diagnose(&self, mut progress: impl FnMut(&Diagnosis) + Send) -> Diagnosis {
        let start = Instant::now();
        let t = self.opts.timeout;
        let given = self.opts.route.clone();
        let cli = match given.as_ref().and_then(AnyRoute::remote_cli) {
            Some(remote) => remote,
            None => self.locate(),
        };
        let mut ev = Evidence::new(
            chrono::Utc::now(),
            Platform::current(),
            self.inputs(),
            cli.clone(),
        );
        let mut consent_url = None;
        let mut status_done = None;
        let reader = if let Some(route) = given {
            route
        } else {
            match self.api_status(false).await {
                Some((api, desc, status, ms)) => {
                    if let Ok(s) = &status {
                        consent_url = self.consent_url(api.api(), s).await;
                    }
                    ev.api = Some(desc);
                    status_done = Some((status, ms));
                    AnyRoute::Api(api)
                }
                None => match &cli {
                    Ok(l) => AnyRoute::Cli(CliRoute::new(&l.path, l.source.describe(), t)),
                    Err(_) => {
                        let route = "none (no LocalAPI, no CLI)".to_string();
                        return diagnosis::assemble(&ev, None, route, ms_since(start), true);
                    }
                },
            }
        };
        let route = reader.describe();
        let cli: Option<Arc<Path>> = match self.opts.route {
            Some(_) => None,
            None => cli.ok().map(|l| Arc::from(l.path.as_path())),
        };
        let mut tasks: JoinSet<Done> = JoinSet::new();
        match status_done {
            Some((r, ms)) => ev.status = Step::Done { value: r, ms },
            None => {
                let reader = reader.clone();
                tasks.spawn(async move {
                    let s = Instant::now();
                    let read = || reader.status();
                    let mut r = read().await;
                    if let Ok(first) = &r
                        && settle_online(first).await
                        && let Ok(second) = read().await
                    {
                        r = Ok(second);
                    }
                    Done::Status(Box::new(r), ms_since(s))
                });
                ev.status = Step::Running;
            }
        }
        {
            let reader = reader.clone();
            tasks.spawn(async move {
                let s = Instant::now();
                let r = reader.serve_config().await.map(|r| (r.config, r.raw));
                Done::Serve(r, ms_since(s))
            });
        }
        ev.serve = Step::Running;
        let snapshot =
            |ev: &Evidence| diagnosis::assemble(ev, None, route.clone(), ms_since(start), false);
        progress(&snapshot(&ev));

        // Connections whose handshake worked, each waiting for its one request.
        let mut sessions = SpareConnections::default();
        let mut stopped_early = self.certain(&ev);
        while !stopped_early && let Some(joined) = tasks.join_next().await {
            // A panicking probe is a bug; the step stays Running, which the final report shows as
            // that check's error (and never as green).
            let Ok(done) = joined else { continue };
            match done {
                Done::Status(r, ms) => ev.status = Step::Done { value: *r, ms },
                Done::Serve(r, ms) => {
                    ev.serve = Step::Done {
                        value: r.map(|(c, _)| c),
                        ms,
                    }
                }
                Done::Tls(o, ms, session) => {
                    sessions.keep(session);
                    ev.tls = Step::Done { value: o, ms }
                }
                Done::Backend(o, ms) => ev.backend = Step::Done { value: o, ms },
                Done::Via(o, ms) => ev.via_serve = Step::Done { value: o, ms },
                Done::Cert(c, ms) => ev.cert_cmd = Step::Done { value: c, ms },
                Done::Endpoint(url, done, ms) => {
                    let st = ev.endpoint_steps.entry(url).or_default();
                    match done {
                        EndpointDone::Listener(o) => st.listener = Step::Done { value: o, ms },
                        EndpointDone::Tls(o, session) => {
                            sessions.keep(session);
                            st.tls = Step::Done { value: o, ms }
                        }
                        EndpointDone::Request(o) => st.request = Step::Done { value: o, ms },
                        EndpointDone::Backend(o) => st.backend = Step::Done { value: o, ms },
                        EndpointDone::Forward(o) => st.forward = Step::Done { value: o, ms },
                    }
                }
            }
            // Decide before starting anything new: a certain verdict must not cost a probe
            // (with HTTPS off, every handshake attempt makes tailscaled try issuance again).
            // The serve config is still awaited when it is the only source of the backend
            // port: the fixes (tunnel, fallbacks) must name the right one.
            if self.certain(&ev) {
                stopped_early = true;
                break;
            }
            self.start_probes(&mut ev, &mut tasks, cli.as_ref(), &mut sessions);
            progress(&snapshot(&ev));
        }
        if stopped_early {
            tasks.abort_all();
            // Wait for the aborted tasks to be dropped, so their process groups are dead before
            // we report (and before the process can exit).
            while tasks.join_next().await.is_some() {}
            cancel_unfinished(&mut ev);
        }
        diagnosis::assemble(&ev, consent_url, route, ms_since(start), true)
    }

    /// Whether we may stop now. The serve config is still awaited when it is the only source
    /// of the backend port: the fixes (tunnel, fallbacks) must name the right one.
    fn certain(&self, ev: &Evidence) -> bool {
        let port_known = self.opts.port.is_some() || self.opts.config_port.is_some();
        let fixes_ready = port_known || !ev.serve.is_running();
        !self.opts.full && fixes_ready && rules::decide(ev, &diagnosis::plan(ev)).is_some()
    }

    /// The LocalAPI route, when it applies and the daemon answers: the client, a description
    /// for reports, and the status it returned (`peers`: with the netmap's peers). `None` means
    /// "use the CLI".
    async fn api_status(
        &self,
        peers: bool,
    ) -> Option<(ApiRoute, String, Result<Status, CliFailure>, u64)> {
        if self.opts.tailscale.is_some() {
            return None;
        }
        let forced = self.opts.socket.is_some();
        // The lock covers discovery only, so that runs side by side (`--all`, the exporter)
        // share one discovery but never wait for each other's status reads.
        let found = {
            let mut cached = self.discovery.lock().await;
            match cached.as_ref() {
                Some(d) => d.clone(),
                None => {
                    let d = localapi::discover(self.opts.socket.as_deref(), &self.roots).await;
                    *cached = Some(d.clone());
                    d
                }
            }
        };
        let api = Arc::new(LocalApi::new(found.endpoint.clone(), self.opts.timeout));
        let desc = format!("{} ({})", found.endpoint, found.via.describe());
        let route = ApiRoute::new(api.clone(), found.via.describe());
        let s = Instant::now();
        let read = || async {
            match peers {
                true => api.status_with_peers().await,
                false => api.status().await,
            }
        };
        match read().await {
            Ok(status) => {
                let mut status = match settle_online(&status).await {
                    true => read().await.unwrap_or(status),
                    false => status,
                };
                // Only a status with warnings can hold the pending-certificate one; then read
                // them by code from the bus (bounded), where the text may change. A diagnosis of
                // another node (`peers`) does not look at this node's warnings.
                if !status.health.is_empty() && !peers {
                    let bound = self.opts.timeout.min(Duration::from_millis(500));
                    status.health_codes = api.health_codes(bound).await;
                }
                Some((route, desc, Ok(status), ms_since(s)))
            }
            // The daemon is not there: forget the endpoint (it may move, e.g. the macOS app
            // restarting on a new port) and let the CLI speak, unless the socket was forced.
            Err(e) if e.is_unreachable() && !forced => {
                self.forget(&found).await;
                None
            }
            Err(e) => {
                self.forget(&found).await;
                Some((route, desc, Err(api_failure(e)), ms_since(s)))
            }
        }
    }

    /// Forgets a discovered endpoint that failed, unless another run has found a new one since.
    async fn forget(&self, failed: &Discovery) {
        let mut cached = self.discovery.lock().await;
        if cached
            .as_ref()
            .is_some_and(|d| d.endpoint == failed.endpoint)
        {
            *cached = None;
        }
    }

    /// Where HTTPS is off, the consent page control hands out (`query-feature`, which never
    /// waits, unlike the CLI). Bounded; failure just means the admin page is offered instead.
    async fn consent_url(&self, api: &LocalApi, s: &Status) -> Option<String> {
        let https_off =
            s.backend_state.is_running() && s.cert_domains.is_empty() && !s.has_cap("https");
        if !https_off {
            return None;
        }
        let bound = self.opts.timeout.min(Duration::from_secs(2));
        match tokio::time::timeout(bound, api.query_feature("serve")).await {
            Ok(Ok(q)) if q.url.starts_with("https://") => Some(q.url),
            _ => None,
        }
    }

    /// Starts whatever the evidence so far makes possible and has not started yet.
    fn start_probes(
        &self,
        ev: &mut Evidence,
        tasks: &mut JoinSet<Done>,
        cli: Option<&Arc<Path>>,
        sessions: &mut SpareConnections,
    ) {
        let Some(status) = ev.status_ok() else { return };
        let running = status.backend_state.is_running();
        let Some(name) = status.dns_name().map(str::to_string) else {
            return;
        };
        let t = self.opts.timeout;
        if !running {
            return;
        }
        let (tailnet, node) = (self.tailnet_via(), self.opts.node_via.clone());
        if let (true, Step::NotStarted, Some(cli)) = (self.opts.deep, &ev.cert_cmd, cli) {
            let (cli, name) = (cli.clone(), name.clone());
            tasks.spawn(async move {
                let s = Instant::now();
                Done::Cert(tailscale::cert(&cli, &name, t).await, ms_since(s))
            });
            ev.cert_cmd = Step::Running;
        }
        // TLS and backend need the serve config: it names the HTTPS port and the proxy target
        // (an unreadable one names neither, and nothing is probed in their place).
        if ev.serve_ok().is_none() {
            return;
        }
        let plan = diagnosis::plan(ev);
        if let (Step::NotStarted, Ok(dial)) = (&ev.tls, &plan.dial) {
            let (dial, name, trust) = (dial.clone(), name.clone(), self.trust.clone());
            let tailnet = tailnet.clone();
            tasks.spawn(async move {
                let s = Instant::now();
                let (o, session) = probe::tls_session(&dial, &tailnet, &name, &trust, t).await;
                Done::Tls(o, ms_since(s), session)
            });
            ev.tls = Step::Running;
        }
        if let (Step::NotStarted, Some(target)) = (&ev.backend, &plan.backend_target) {
            let (target, trust, insecure) =
                (target.clone(), self.trust.clone(), self.insecure.clone());
            let node = node.clone();
            tasks.spawn(async move {
                let s = Instant::now();
                Done::Backend(
                    probe::backend_get(&target, &node, &trust, &insecure, t).await,
                    ms_since(s),
                )
            });
            ev.backend = Step::Running;
        }
        // Only after a handshake worked: each failed handshake makes tailscaled retry issuance,
        // and a second concurrent one would double the load on Let's Encrypt's rate limit.
        if let (Step::NotStarted, Some(TlsOutcome::Established { .. }), Ok(dial)) =
            (&ev.via_serve, ev.tls.value(), &plan.dial)
        {
            let session = sessions.take(dial, &name);
            let (dial, name, trust) = (dial.clone(), name.clone(), self.trust.clone());
            let tailnet = tailnet.clone();
            tasks.spawn(async move {
                let s = Instant::now();
                let o = match session {
                    Some(session) => probe::get_over(session, &name, "/", t).await,
                    None => {
                        probe::http_get(&dial, &tailnet, &name, "/", Some((&name, &trust)), t).await
                    }
                };
                Done::Via(o, ms_since(s))
            });
            ev.via_serve = Step::Running;
        }
        self.start_endpoint_probes(ev, &plan, tasks, sessions);
    }

    /// The other endpoints of this node, once the main handshake shows the certificate works
    /// (every handshake that fails makes tailscaled try issuance again, so none is made before).
    /// Each probe starts when what it needs is there: the request through serve after that
    /// endpoint's own handshake.
    fn start_endpoint_probes(
        &self,
        ev: &mut Evidence,
        plan: &ProbePlan,
        tasks: &mut JoinSet<Done>,
        sessions: &mut SpareConnections,
    ) {
        if endpoints::blocked(ev, plan).is_some() {
            return;
        }
        let Ok(dial) = &plan.dial else { return };
        // The host part of the main dial address (an IP, or --connect's host), with each
        // endpoint's own port.
        let host = dial
            .rsplit_once(':')
            .map_or(dial.as_str(), |(h, _)| h)
            .to_string();
        let t = self.opts.timeout;
        let (tailnet, node) = (self.tailnet_via(), self.opts.node_via.clone());
        for ep in plan.endpoints.iter().filter(|e| e.ours() && !e.primary) {
            let main_tls = endpoints::shares_main_handshake(plan, ep);
            let main_tls_ok = matches!(ev.tls.value(), Some(TlsOutcome::Established { .. }));
            let st = ev.endpoint_steps.entry(ep.url.clone()).or_default();
            // On the main port the main dial address speaks for it (`--connect` included).
            let addr = if ep.port == plan.https_port {
                dial.clone()
            } else {
                format!("{host}:{}", ep.port)
            };
            let url = ep.url.clone();
            let spawn =
                |tasks: &mut JoinSet<Done>,
                 f: Pin<Box<dyn Future<Output = EndpointDone> + Send>>| {
                    let url = url.clone();
                    tasks.spawn(async move {
                        let s = Instant::now();
                        let done = f.await;
                        Done::Endpoint(url, done, ms_since(s))
                    });
                };
            if let (Step::NotStarted, Some(target)) = (&st.backend, &ep.target) {
                let (target, trust, insecure) =
                    (target.clone(), self.trust.clone(), self.insecure.clone());
                let node = node.clone();
                spawn(
                    tasks,
                    Box::pin(async move {
                        EndpointDone::Backend(
                            probe::backend_get(&target, &node, &trust, &insecure, t).await,
                        )
                    }),
                );
                st.backend = Step::Running;
            }
            if let (Step::NotStarted, Some(fwd)) = (&st.forward, &ep.forward) {
                let fwd = fwd.clone();
                let node = node.clone();
                spawn(
                    tasks,
                    Box::pin(async move {
                        EndpointDone::Forward(probe::tcp_connect(&fwd, &node, t).await.0)
                    }),
                );
                st.forward = Step::Running;
            }
            if ep.kind == endpoints::Kind::Tcp && !ep.tls && matches!(st.listener, Step::NotStarted)
            {
                let addr = addr.clone();
                let tailnet = tailnet.clone();
                spawn(
                    tasks,
                    Box::pin(async move {
                        EndpointDone::Listener(probe::tcp_connect(&addr, &tailnet, t).await.0)
                    }),
                );
                st.listener = Step::Running;
            }
            if ep.tls && !main_tls && matches!(st.tls, Step::NotStarted) {
                let (addr, sni, trust) = (addr.clone(), ep.sni.clone(), self.trust.clone());
                let tailnet = tailnet.clone();
                spawn(
                    tasks,
                    Box::pin(async move {
                        let (o, session) =
                            probe::tls_session(&addr, &tailnet, &sni, &trust, t).await;
                        EndpointDone::Tls(o, session)
                    }),
                );
                st.tls = Step::Running;
            }
            let tls_ready = if main_tls {
                main_tls_ok
            } else {
                matches!(st.tls.value(), Some(TlsOutcome::Established { .. }))
            };
            if ep.kind == endpoints::Kind::Web
                && matches!(st.request, Step::NotStarted)
                && (tls_ready || !ep.tls)
            {
                let (addr, sni, path, trust) = (
                    addr.clone(),
                    ep.sni.clone(),
                    ep.path.clone(),
                    self.trust.clone(),
                );
                let tls = ep.tls;
                let session = tls.then(|| sessions.take(&addr, &sni)).flatten();
                let tailnet = tailnet.clone();
                spawn(
                    tasks,
                    Box::pin(async move {
                        let o = match session {
                            Some(session) => probe::get_over(session, &sni, &path, t).await,
                            None => {
                                let via = tls.then_some((sni.as_str(), trust.as_ref()));
                                probe::http_get(&addr, &tailnet, &sni, &path, via, t).await
                            }
                        };
                        EndpointDone::Request(o)
                    }),
                );
                st.request = Step::Running;
            }
        }
    }
}

/// After an early stop: whatever was running, or was about to be started, is reported as
/// cancelled (not needed) rather than as not applicable.
fn cancel_unfinished(ev: &mut Evidence) {
    let plan = diagnosis::plan(ev);
    let running = ev.status_ok().is_some_and(|s| s.backend_state.is_running());
    fn cancel<T>(s: &mut Step<T>, also_not_started: bool) {
        if s.is_running() || (also_not_started && matches!(s, Step::NotStarted)) {
            *s = Step::Cancelled;
        }
    }
    cancel(&mut ev.status, false);
    cancel(&mut ev.serve, false);
    cancel(&mut ev.tls, running && plan.dial.is_ok());
    cancel(&mut ev.backend, running && plan.backend_target.is_some());
    cancel(&mut ev.via_serve, false);
    let deep = ev.inputs.deep;
    cancel(&mut ev.cert_cmd, running && deep);
    for st in ev.endpoint_steps.values_mut() {
        cancel(&mut st.listener, false);
        cancel(&mut st.tls, false);
        cancel(&mut st.request, false);
        cancel(&mut st.backend, false);
        cancel(&mut st.forward, false);
    }
}
