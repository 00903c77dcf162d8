//! The vocabulary every other room speaks: health, causes, checks, fixes, and a diagnosis.
//!
//! One source of truth for each stable identifier: the `as_str()` of these enums is what JSON,
//! the README table and scripts see, and a test checks the README against `ALL`.

use serde::{Serialize, Serializer};

macro_rules! stable_ids {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $s:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $variant,)* }
        impl $name {
            /// Every value, in declaration order (for causes: precedence order).
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];
            /// The stable identifier used in JSON, reports and exit-code docs.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s,)* }
            }
            /// Parses a stable identifier back.
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($s => Some($name::$variant),)* _ => None }
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

stable_ids! {
    /// The colour of the tray icon and the exit status of `diagnose`.
    Health {
        Green = "green",
        Yellow = "yellow",
        Red = "red",
        Gray = "gray",
    }
}

stable_ids! {
    /// The root cause. Declaration order is precedence order: the first that applies wins.
    Cause {
        TailscaleNotFound = "tailscale_not_found",
        DaemonUnreachable = "daemon_unreachable",
        StatusUnparseable = "status_unparseable",
        Stopped = "stopped",
        NeedsLogin = "needs_login",
        NeedsApproval = "needs_approval",
        // From another device (`diagnose URL`): this device, the name, the peer, then what the
        // serving node's answers say about it.
        PeerNotFound = "peer_not_found",
        NameUnresolved = "name_unresolved",
        DeviceDns = "device_dns",
        PeerOffline = "peer_offline",
        PeerUnreachable = "peer_unreachable",
        PeerNoCert = "peer_no_cert",
        PeerCertStuck = "peer_cert_stuck",
        PeerCertInvalid = "peer_cert_invalid",
        PeerBackendDown = "peer_backend_down",
        PeerServeFailing = "peer_serve_failing",
        MagicdnsDisabled = "magicdns_disabled",
        HttpsDisabled = "https_disabled",
        ServeConfigUnreadable = "serve_config_unreadable",
        ServeNotConfigured = "serve_not_configured",
        ServeNameMismatch = "serve_name_mismatch",
        ServePlainHttp = "serve_plain_http",
        ListenerUnreachable = "listener_unreachable",
        CertNeedsControl = "cert_needs_control",
        CertPending = "cert_pending",
        CertIssuanceFailing = "cert_issuance_failing",
        CertInvalid = "cert_invalid",
        BackendDown = "backend_down",
        BackendNotResponding = "backend_not_responding",
        BackendCertRejected = "backend_cert_rejected",
        ServeProxyFailing = "serve_proxy_failing",
        EndpointFailing = "endpoint_failing",
        CertExpiring = "cert_expiring",
        ControlUnreachable = "control_unreachable",
        EndpointDegraded = "endpoint_degraded",
        NotVerified = "not_verified",
        Healthy = "healthy",
    }
}

impl Cause {
    /// The cause as a headline: short enough to read at a glance in a menu or a notification
    /// (the summary sentence says the rest).
    pub fn headline(self) -> &'static str {
        use Cause::*;
        match self {
            TailscaleNotFound => "Tailscale CLI not found",
            DaemonUnreachable => "Tailscale daemon not answering",
            StatusUnparseable => "Tailscale status unreadable",
            Stopped => "Tailscale is stopped",
            NeedsLogin => "Tailscale needs you to log in",
            NeedsApproval => "This machine awaits approval",
            PeerNotFound => "Not a node of this tailnet",
            NameUnresolved => "The name does not resolve here",
            DeviceDns => "A DNS problem on this device",
            PeerOffline => "That node is offline",
            PeerUnreachable => "That node cannot be reached from here",
            PeerNoCert => "That node can get no certificate",
            PeerCertStuck => "Certificate issuance stuck on that node",
            PeerCertInvalid => "That node's certificate is not valid here",
            PeerBackendDown => "The app behind that node's serve is down",
            PeerServeFailing => "Serve on that node is failing",
            MagicdnsDisabled => "MagicDNS is off for the tailnet",
            HttpsDisabled => "HTTPS certificates are off for the tailnet",
            ServeConfigUnreadable => "Serve config unreadable",
            ServeNotConfigured => "Serve is not configured",
            ServeNameMismatch => "Serve config is keyed to an old name",
            ServePlainHttp => "Serve uses plain HTTP, not HTTPS",
            ListenerUnreachable => "Nothing answers on the HTTPS port",
            CertNeedsControl => "No certificate without the control server",
            CertPending => "Waiting for the first certificate",
            CertIssuanceFailing => "Certificate issuance is failing",
            CertInvalid => "The certificate is not valid",
            BackendDown => "Your app behind serve is down",
            BackendNotResponding => "Your app behind serve does not respond",
            BackendCertRejected => "Serve rejects your app's certificate",
            ServeProxyFailing => "Serve cannot reach your app",
            EndpointFailing => "Another serve endpoint fails",
            EndpointDegraded => "A serve entry needs attention",
            CertExpiring => "The certificate expires soon",
            ControlUnreachable => "Control server unreachable",
            NotVerified => "Serve could not be verified from here",
            Healthy => "Serve healthy",
        }
    }

    pub fn health(self) -> Health {
        use Cause::*;
        match self {
            TailscaleNotFound
            | DaemonUnreachable
            | StatusUnparseable
            | Stopped
            | NeedsLogin
            | NeedsApproval
            | ServeConfigUnreadable
            | NotVerified => Health::Gray,
            CertPending | CertExpiring | ControlUnreachable | EndpointDegraded => Health::Yellow,
            Healthy => Health::Green,
            // Listed, not defaulted: a new cause must say its colour here.
            MagicdnsDisabled | HttpsDisabled | ServeNotConfigured | ServeNameMismatch
            | ServePlainHttp | ListenerUnreachable | CertNeedsControl | CertIssuanceFailing
            | CertInvalid | BackendDown | BackendNotResponding | BackendCertRejected
            | ServeProxyFailing | EndpointFailing | PeerNotFound | NameUnresolved | DeviceDns
            | PeerOffline | PeerUnreachable | PeerNoCert | PeerCertStuck | PeerCertInvalid
            | PeerBackendDown | PeerServeFailing => Health::Red,
        }
    }
}

stable_ids! {
    /// One line of the chain, in the order they are shown.
    CheckId {
        TailscaleCli = "tailscale_cli",
        Daemon = "daemon",
        LoggedIn = "logged_in",
        Peer = "peer",
        MagicdnsLookup = "magicdns_lookup",
        SystemDns = "system_dns",
        Magicdns = "magicdns",
        HttpsCerts = "https_certs",
        ServeConfig = "serve_config",
        Listener = "listener",
        TlsHandshake = "tls_handshake",
        Backend = "backend",
        ServeProxy = "serve_proxy",
        CertCommand = "cert_command",
        Control = "control",
        HealthWarnings = "health_warnings",
    }
}

impl Check {
    /// A line with its id's title.
    pub fn new(id: CheckId, status: CheckStatus, detail: String, ms: u64) -> Check {
        Check {
            id,
            title: id.title(),
            status,
            detail,
            ms,
        }
    }
}

impl CheckId {
    pub fn title(self) -> &'static str {
        match self {
            CheckId::TailscaleCli => "Tailscale reachable",
            CheckId::Daemon => "Tailscale daemon answers",
            CheckId::LoggedIn => "Logged in and running",
            CheckId::MagicdnsLookup => "Name resolves through MagicDNS",
            CheckId::SystemDns => "Name resolves on this device",
            CheckId::Peer => "Node in this netmap and online",
            CheckId::Magicdns => "MagicDNS on",
            CheckId::HttpsCerts => "HTTPS certificates on",
            CheckId::ServeConfig => "Serve configured for this node",
            CheckId::Listener => "HTTPS port accepts connections",
            CheckId::TlsHandshake => "TLS handshake and certificate",
            CheckId::Backend => "Backend answering",
            CheckId::ServeProxy => "Request through serve",
            CheckId::CertCommand => "tailscale cert (--deep)",
            CheckId::Control => "Control server reachable",
            CheckId::HealthWarnings => "Tailscale health",
        }
    }
}

stable_ids! {
    /// A check's result. `Pending` appears only in progress snapshots, never in a final report.
    CheckStatus {
        Pass = "pass",
        Warn = "warn",
        Fail = "fail",
        Skip = "skip",
        Error = "error",
        Pending = "pending",
    }
}

impl CheckStatus {
    /// ✓ / ⚠ / ✗ / – (and ? for errored, … while running), as in the menu and the text report.
    pub fn symbol(self) -> &'static str {
        match self {
            CheckStatus::Pass => "✓",
            CheckStatus::Warn => "⚠",
            CheckStatus::Fail => "✗",
            CheckStatus::Skip => "–",
            CheckStatus::Error => "?",
            CheckStatus::Pending => "…",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub id: CheckId,
    pub title: &'static str,
    pub status: CheckStatus,
    /// Short evidence, one line.
    pub detail: String,
    /// Time the underlying step took; 0 when it did not run.
    pub ms: u64,
}

stable_ids! {
    /// What the user can do about a cause. Write actions belong to `fix`; these ids are shared.
    FixId {
        InstallTailscale = "install_tailscale",
        StartTailscale = "start_tailscale",
        CheckCliAccess = "check_cli_access",
        LogIn = "log_in",
        ApproveMachine = "approve_machine",
        OpenAdminDns = "open_admin_dns",
        RecreateServe = "recreate_serve",
        ConfigureServe = "configure_serve",
        ServeHttps = "serve_https",
        WaitForCert = "wait_for_cert",
        CheckDaemonLogs = "check_daemon_logs",
        RenewCert = "renew_cert",
        StartBackend = "start_backend",
        ServeInsecureBackend = "serve_insecure_backend",
        EditPolicy = "edit_policy",
        CheckNetwork = "check_network",
        SshTunnel = "ssh_tunnel",
        HttpFallback = "http_fallback",
        Funnel = "funnel",
        DiagnoseThere = "diagnose_there",
        FixDeviceDns = "fix_device_dns",
        ClearBrowserCache = "clear_browser_cache",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    pub id: FixId,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Who the node is, for headlines and reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NodeInfo {
    /// DNS name without the trailing dot.
    pub dns_name: Option<String>,
    pub ips: Vec<String>,
    pub tailnet: Option<String>,
    pub version: Option<String>,
    pub backend_state: Option<String>,
}

/// The certificate the main handshake was given, when it completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateInfo {
    pub issuer: String,
    pub not_after: chrono::DateTime<chrono::Utc>,
    /// Whole days left at the time of the diagnosis (negative once expired).
    pub days_left: i64,
}

/// The version of the JSON report's shape (docs/report.schema.json describes it). Raised when a
/// field changes meaning or goes away; adding a field does not raise it.
pub const REPORT_SCHEMA: u32 = 1;

/// Where the backend port came from, so the output can say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PortSource {
    Flag,
    ConfigFile,
    ServeConfig,
    Default,
    /// Diagnosed from another device: the backend is on the serving node, out of sight.
    Unseen,
}

impl PortSource {
    pub fn describe(self) -> &'static str {
        match self {
            PortSource::Flag => "from --port",
            PortSource::ConfigFile => "from the config file",
            PortSource::ServeConfig => "from the serve config",
            PortSource::Default => "default",
            PortSource::Unseen => "not visible from another device",
        }
    }
}

/// The result of one run of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// [`REPORT_SCHEMA`].
    pub schema: u32,
    pub health: Health,
    pub cause: Cause,
    /// The root cause in one plain sentence.
    pub summary: String,
    pub node: NodeInfo,
    /// The main endpoint's certificate, when its handshake completed (`null` otherwise: never
    /// guessed).
    pub certificate: Option<CertificateInfo>,
    /// `https://<dns name>[:port]/` when known.
    pub url: Option<String>,
    pub backend_port: u16,
    pub backend_port_source: PortSource,
    pub checks: Vec<Check>,
    /// Every endpoint of the serve config with its own verdict (the main chain above follows
    /// the one marked `primary`).
    pub endpoints: Vec<EndpointReport>,
    pub fixes: Vec<Fix>,
    /// Consent URL a CLI or LocalAPI call handed out (`https://login.tailscale.com/f/serve?…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_url: Option<String>,
    /// How tailscaled was reached ("cli /usr/bin/tailscale", later "localapi …").
    pub route: String,
    pub elapsed_ms: u64,
    /// False for progress snapshots taken while steps are still running.
    #[serde(skip)]
    pub complete: bool,
}

impl Diagnosis {
    pub fn check(&self, id: CheckId) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }
}

/// One step of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Step<T> {
    /// Not started: its inputs are missing or it does not apply.
    #[default]
    NotStarted,
    Running,
    /// Stopped because the verdict was already certain.
    Cancelled,
    Done {
        value: T,
        ms: u64,
    },
}

impl<T> Step<T> {
    pub fn value(&self) -> Option<&T> {
        match self {
            Step::Done { value, .. } => Some(value),
            _ => None,
        }
    }
    pub fn ms(&self) -> u64 {
        match self {
            Step::Done { ms, .. } => *ms,
            _ => 0,
        }
    }
    pub fn is_running(&self) -> bool {
        matches!(self, Step::Running)
    }
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Step::Cancelled)
    }
}

/// What kind of serve entry an endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointKind {
    /// A `Web` mount: HTTPS or plain HTTP on host:port, one path.
    Web,
    /// A `TCP` forward; with `TerminateTLS`, serve does the TLS.
    Tcp,
    /// A Service (`svc:…`), served on the Service's own address.
    Service,
    /// An `AllowFunnel` entry with no handler behind it.
    FunnelEntry,
}

/// Whose name a serve entry is keyed by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "is", content = "name")]
pub enum EndpointHost {
    ThisNode,
    /// Another node's name: stale after a rename, a profile switch or an app migration.
    OtherNode(String),
    /// A template placeholder never filled in, such as `${TS_CERT_DOMAIN}`.
    Placeholder(String),
}

/// One endpoint's verdict, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndpointReport {
    pub url: String,
    pub kind: EndpointKind,
    pub handler: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub host: EndpointHost,
    /// Reachable from the internet (Funnel).
    pub public: bool,
    pub foreground: bool,
    /// The one the main chain of checks follows.
    pub primary: bool,
    pub status: CheckStatus,
    /// One sentence: what is wrong, or that it works.
    pub summary: String,
    pub checks: Vec<EndpointCheck>,
}

/// One check of one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndpointCheck {
    /// "listener", "tls_handshake", "backend", "request", "funnel".
    pub name: &'static str,
    pub status: CheckStatus,
    pub detail: String,
}
