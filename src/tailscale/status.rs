//! Tolerant serde model of `tailscale status --json` (`ipnstate.Status`), with or without its
//! peers (`--peers=false`).
//!
//! Real output varies a lot across versions and states: lists print as `null`, 2021-era daemons
//! lack half the fields, newer ones add fields we do not know, `Capabilities` became `CapMap` in
//! 1.50. So every field is defaulted and `null` reads as "empty"; unknown fields are ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// Reads `null` (and a missing field, with `#[serde(default)]`) as `T::default()`.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Status {
    #[serde(default, deserialize_with = "nullable")]
    pub version: String,
    /// `false` means userspace networking: tailscaled has no OS listener we could dial.
    #[serde(default, rename = "TUN")]
    pub tun: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub backend_state: BackendState,
    #[serde(default, rename = "AuthURL", deserialize_with = "nullable")]
    pub auth_url: String,
    #[serde(default, rename = "TailscaleIPs", deserialize_with = "nullable")]
    pub tailscale_ips: Vec<String>,
    #[serde(default, rename = "Self")]
    pub self_node: Option<PeerStatus>,
    /// The other nodes of this node's netmap, by public key; empty when read with
    /// `--peers=false`.
    #[serde(default, deserialize_with = "nullable")]
    pub peer: BTreeMap<String, PeerStatus>,
    #[serde(default, deserialize_with = "nullable")]
    pub health: Vec<String>,
    #[serde(default, rename = "MagicDNSSuffix", deserialize_with = "nullable")]
    pub magic_dns_suffix: String,
    #[serde(default)]
    pub current_tailnet: Option<TailnetStatus>,
    /// Not omitempty upstream: "HTTPS certificates off" prints as `null`.
    #[serde(default, deserialize_with = "nullable")]
    pub cert_domains: Vec<String>,
    /// The health warnings by code, where the route could read the structured state (the
    /// LocalAPI's IPN bus); `None` otherwise (the CLI, an older daemon), and then `health`'s
    /// texts are all there is.
    #[serde(skip)]
    pub health_codes: Option<Vec<String>>,
}

/// `ipn.State`: where the node is in its life. `status` prints it by name, the IPN bus by number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum BackendState {
    NoState,
    InUseOtherUser,
    NeedsLogin,
    NeedsMachineAuth,
    Stopped,
    Starting,
    Running,
    /// A state this build does not know (a newer daemon), as given: a name, or a bus number.
    /// Empty when the field is absent (very old daemons) or `null`.
    #[serde(untagged)]
    Other(String),
}

impl Default for BackendState {
    fn default() -> BackendState {
        BackendState::Other(String::new())
    }
}

impl BackendState {
    const KNOWN: [BackendState; 7] = [
        BackendState::NoState,
        BackendState::InUseOtherUser,
        BackendState::NeedsLogin,
        BackendState::NeedsMachineAuth,
        BackendState::Stopped,
        BackendState::Starting,
        BackendState::Running,
    ];

    /// The bus's number (`ipn.State` is an int there).
    pub fn from_number(n: i64) -> BackendState {
        usize::try_from(n)
            .ok()
            .and_then(|i| Self::KNOWN.get(i).cloned())
            .unwrap_or_else(|| BackendState::Other(n.to_string()))
    }

    /// A known name, or `Other(name)`.
    pub fn from_name(name: &str) -> BackendState {
        Self::KNOWN
            .iter()
            .find(|s| s.as_str() == name)
            .cloned()
            .unwrap_or_else(|| BackendState::Other(name.to_string()))
    }

    /// The name `status` prints as `BackendState` ("" when absent).
    pub fn as_str(&self) -> &str {
        match self {
            BackendState::NoState => "NoState",
            BackendState::InUseOtherUser => "InUseOtherUser",
            BackendState::NeedsLogin => "NeedsLogin",
            BackendState::NeedsMachineAuth => "NeedsMachineAuth",
            BackendState::Stopped => "Stopped",
            BackendState::Starting => "Starting",
            BackendState::Running => "Running",
            BackendState::Other(s) => s,
        }
    }

    pub fn is_running(&self) -> bool {
        *self == BackendState::Running
    }

    /// Whether the field said anything at all.
    pub fn is_known(&self) -> bool {
        !matches!(self, BackendState::Other(s) if s.is_empty())
    }
}

impl std::fmt::Display for BackendState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for BackendState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<BackendState, D::Error> {
        Ok(BackendState::from_name(&String::deserialize(d)?))
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct TailnetStatus {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, rename = "MagicDNSSuffix", deserialize_with = "nullable")]
    pub magic_dns_suffix: String,
    #[serde(default, rename = "MagicDNSEnabled")]
    pub magic_dns_enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct PeerStatus {
    #[serde(default, deserialize_with = "nullable")]
    pub host_name: String,
    /// FQDN with a trailing dot; empty when logged out.
    #[serde(default, rename = "DNSName", deserialize_with = "nullable")]
    pub dns_name: String,
    #[serde(default, rename = "OS", deserialize_with = "nullable")]
    pub os: String,
    #[serde(default, rename = "TailscaleIPs", deserialize_with = "nullable")]
    pub tailscale_ips: Vec<String>,
    /// For Self: whether a control poll is active (not peer reachability). For a peer: whether
    /// control says it is connected.
    #[serde(default)]
    pub online: Option<bool>,
    /// Before 1.50 (and deprecated since): a list of capability strings.
    #[serde(default, deserialize_with = "nullable")]
    pub capabilities: Vec<String>,
    /// 1.50+: capability name → raw JSON values (or `null`).
    #[serde(default, deserialize_with = "nullable")]
    pub cap_map: BTreeMap<String, serde_json::Value>,
    #[serde(default, deserialize_with = "nullable")]
    pub key_expiry: String,
    #[serde(default)]
    pub expired: Option<bool>,
}

impl PeerStatus {
    /// `DNSName` without its trailing dot.
    pub fn name(&self) -> &str {
        self.dns_name.trim_end_matches('.')
    }

    /// `host` is lowercase, without a trailing dot.
    fn is_named(&self, host: &str) -> bool {
        let name = self.name().to_ascii_lowercase();
        (!name.is_empty() && (name == host || name.split('.').next() == Some(host)))
            || self.tailscale_ips.iter().any(|ip| ip == host)
    }
}

impl Status {
    /// Parses CLI or LocalAPI output. Leading noise such as a version-skew warning on stdout is
    /// not tolerated on purpose: the caller shows the first bytes of whatever did not parse.
    pub fn from_json(bytes: &[u8]) -> Result<Status, serde_json::Error> {
        super::expect_object(bytes, false)?;
        serde_json::from_slice(bytes)
    }

    /// `Self.DNSName` without its trailing dot, if logged in.
    pub fn dns_name(&self) -> Option<&str> {
        let name = self.self_node.as_ref()?.dns_name.trim_end_matches('.');
        (!name.is_empty()).then_some(name)
    }

    /// The node's Tailscale IPs, from `Self` or the top level (older daemons fill only one).
    pub fn ips(&self) -> &[String] {
        match &self.self_node {
            Some(s) if !s.tailscale_ips.is_empty() => &s.tailscale_ips,
            _ => &self.tailscale_ips,
        }
    }

    /// The tailnet name for display: `CurrentTailnet.Name`, else the MagicDNS suffix.
    pub fn tailnet(&self) -> Option<&str> {
        let t = self.current_tailnet.as_ref();
        [
            t.map(|t| t.name.as_str()),
            t.map(|t| t.magic_dns_suffix.as_str()),
            Some(self.magic_dns_suffix.as_str()),
        ]
        .into_iter()
        .flatten()
        .map(|s| s.trim_matches('.'))
        .find(|s| !s.is_empty())
    }

    /// The node of this netmap (a peer, or this node itself) that `host` names: its full DNS
    /// name, its first label (what a MagicDNS search domain completes), or one of its Tailscale
    /// IPs. Case and a trailing dot do not matter, as in DNS.
    pub fn find_node(&self, host: &str) -> Option<&PeerStatus> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let mut named = self
            .peer
            .values()
            .chain(self.self_node.as_ref())
            .filter(|p| p.is_named(&host));
        // A machine that registered again can leave its old entry behind for a while, under
        // the same name and offline: the online one is the machine.
        let first = named.next()?;
        Some(
            std::iter::once(first)
                .chain(named)
                .find(|p| p.online == Some(true))
                .unwrap_or(first),
        )
    }

    /// Whether the self node holds capability `cap`, in either the old list or the new map.
    pub fn has_cap(&self, cap: &str) -> bool {
        self.self_node
            .as_ref()
            .is_some_and(|s| s.cap_map.contains_key(cap) || s.capabilities.iter().any(|c| c == cap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_missing_fields_and_unknown_fields_are_tolerated() {
        let s = Status::from_json(
            br#"{"BackendState":"Running","CertDomains":null,"Health":null,"TailscaleIPs":null,
                 "Self":{"DNSName":"box.tail1.ts.net.","CapMap":{"https":null},"Future":1,"TailscaleIPs":["100.1.2.3"]},
                 "CurrentTailnet":null,"SomethingNew":{"x":[1]}}"#,
        )
        .unwrap();
        assert_eq!(s.backend_state, BackendState::Running);
        assert!(s.cert_domains.is_empty());
        assert_eq!(s.dns_name(), Some("box.tail1.ts.net"));
        assert!(s.has_cap("https"));
        assert!(!s.has_cap("funnel"));
        assert_eq!(s.tailnet(), None);
        assert_eq!(s.ips(), ["100.1.2.3"]);
    }

    #[test]
    fn peers_are_found_by_full_name_first_label_or_ip() {
        let s = Status::from_json(
            br#"{"Self":{"DNSName":"phone.tail1.ts.net.","TailscaleIPs":["100.64.0.2"]},
                 "Peer":{"nodekey:1":{"DNSName":"Server.tail1.ts.net.","Online":true,
                         "TailscaleIPs":["100.64.0.1","fd7a:115c:a1e0::1"],"Future":[]},
                         "nodekey:2":{"DNSName":"","TailscaleIPs":null}}}"#,
        )
        .unwrap();
        for host in [
            "server.tail1.ts.net",
            "SERVER.tail1.ts.net.",
            "server",
            "100.64.0.1",
        ] {
            let p = s.find_node(host).unwrap_or_else(|| panic!("{host}"));
            assert_eq!(p.name(), "Server.tail1.ts.net");
            assert_eq!(p.online, Some(true));
        }
        assert_eq!(
            s.find_node("phone").map(|p| p.name()),
            Some("phone.tail1.ts.net")
        );
        assert!(s.find_node("laptop").is_none());
        assert!(s.find_node("").is_none());
        assert!(s.find_node("tail1.ts.net").is_none());
        let none = Status::from_json(br#"{"Peer":null}"#).unwrap();
        assert!(none.peer.is_empty());
    }

    #[test]
    fn old_capabilities_list_counts() {
        let s = Status::from_json(br#"{"Self":{"Capabilities":["https","funnel"]}}"#).unwrap();
        assert!(s.has_cap("funnel"));
        assert_eq!(s.dns_name(), None);
    }

    #[test]
    fn not_json_is_an_error_not_a_panic() {
        assert!(Status::from_json(b"The Tailscale GUI failed to start").is_err());
        assert!(Status::from_json(b"").is_err());
    }
}

#[cfg(test)]
mod find_node_tests {
    use super::*;

    #[test]
    fn of_two_entries_under_one_name_the_online_one_is_the_machine() {
        let st = Status::from_json(
            br#"{"Peer":{
                "nodekey:old":{"DNSName":"server.t.ts.net.","TailscaleIPs":["100.64.0.1"],"Online":false},
                "nodekey:new":{"DNSName":"server.t.ts.net.","TailscaleIPs":["100.64.0.3"],"Online":true}}}"#,
        )
        .unwrap();
        let n = st.find_node("server.t.ts.net").unwrap();
        assert_eq!(n.tailscale_ips, vec!["100.64.0.3".to_string()]);
    }
}
