//! Tolerant model of the `ipn.Notify` objects that `watch-ipn-bus` streams, one per line.
//!
//! Only what a watcher needs to decide "re-diagnose now" is modelled (`ipn.Notify`:
//! docs/TAILSCALE.md#localapi; the bytes as the real daemon sends them: docs/TAILNET.md).
//! Every field is optional and unknown fields are ignored, because the set grows with every
//! release. The netmap and the self node are recorded as present or not, without being parsed:
//! a netmap can be megabytes, and what we want from it (`CertDomains`) is not in the
//! `SelfChange` message anyway, so the watcher re-reads `status` instead.

use serde::de::{self, IgnoredAny};
use serde::{Deserialize, Deserializer};

use crate::tailscale::status::{BackendState, nullable};

/// `watch-ipn-bus` mask bits (`ipn.NotifyWatchOpt`, docs/TAILSCALE.md#localapi) that the tray uses.
pub mod mask {
    /// Send the current `State` first (with `BrowseToURL` when it is NeedsLogin).
    pub const INITIAL_STATE: u64 = 2;
    /// Send the full netmap first.
    pub const INITIAL_NET_MAP: u64 = 8;
    /// No private keys in netmaps. A no-op today, but v1.54–v1.90 refused read-only watchers
    /// without it, so it is always set.
    pub const NO_PRIVATE_KEYS: u64 = 16;
    /// Send the health state first. Alone it sends nothing: it needs `INITIAL_STATE`.
    pub const INITIAL_HEALTH_STATE: u64 = 128;
    /// Leave the (large) `NetMap` out; v1.98+ still send `SelfChange`, older ones ignore it.
    pub const NO_NET_MAP: u64 = 8192;
}

/// The tray's subscription: the initial state and health, no private keys, no netmap
/// (InitialState | NoPrivateKeys | InitialHealthState | NoNetMap = 8338).
pub const TRAY_MASK: u64 = 2 | 16 | 128 | 8192;

/// One message from the bus.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Notify {
    /// The daemon's version (sent on the first message).
    #[serde(default, deserialize_with = "nullable")]
    pub version: String,
    /// Set when the daemon gives up on this watcher (e.g. "IPN bus consumer fell behind").
    #[serde(default)]
    pub err_message: Option<String>,
    /// The backend state, sent to every watcher whatever the mask.
    #[serde(default, deserialize_with = "state")]
    pub state: Option<BackendState>,
    /// The self node changed (v1.98+; sent even with `NO_NET_MAP`). Its content is not kept.
    #[serde(default, deserialize_with = "present")]
    pub self_change: bool,
    /// A full netmap came (everything before v1.98 signals self/DNS changes this way).
    #[serde(default, rename = "NetMap", deserialize_with = "present")]
    pub net_map: bool,
    /// The full health state, `{"Warnings": …}`; kept raw because its shape keeps growing.
    #[serde(default)]
    pub health: Option<serde_json::Value>,
    /// A login or consent URL the daemon wants opened.
    #[serde(default, rename = "BrowseToURL")]
    pub browse_to_url: Option<String>,
}

impl Notify {
    /// Parses one line of the stream.
    pub fn from_json(bytes: &[u8]) -> Result<Notify, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Whether this message can change a diagnosis: state, self node, netmap or health.
    pub fn is_interesting(&self) -> bool {
        self.state.is_some() || self.self_change || self.net_map || self.health.is_some()
    }
}

/// `null` and a missing field are "absent"; any other value is "present".
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<IgnoredAny>::deserialize(d)?.is_some())
}

/// `ipn.State` on the bus: a number; the names are accepted too in case a future daemon
/// marshals them as text, but only known ones (a name we do not know is a broken message).
fn state<'de, D: Deserializer<'de>>(d: D) -> Result<Option<BackendState>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(i64),
        Name(String),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Number(n)) => Ok(Some(BackendState::from_number(n))),
        Some(Raw::Name(name)) => match BackendState::from_name(&name) {
            BackendState::Other(_) => Err(de::Error::custom(format!("unknown state {name:?}"))),
            known => Ok(Some(known)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tray_mask_is_8338() {
        assert_eq!(TRAY_MASK, 8338);
        assert_eq!(
            TRAY_MASK,
            mask::INITIAL_STATE
                | mask::NO_PRIVATE_KEYS
                | mask::INITIAL_HEALTH_STATE
                | mask::NO_NET_MAP
        );
    }

    #[test]
    fn first_message_with_the_always_present_nulls() {
        let n = Notify::from_json(
            br#"{"Version":"1.102.3-t","ErrMessage":null,"LoginFinished":null,"State":6,"Prefs":null,
                "NetMap":null,"Engine":null,"BrowseToURL":null,"DriveShares":null,"SessionID":"s1"}"#,
        )
        .unwrap();
        assert_eq!(n.version, "1.102.3-t");
        assert_eq!(n.state, Some(BackendState::Running));
        assert!(!n.net_map && !n.self_change && n.health.is_none() && n.err_message.is_none());
        assert!(n.is_interesting());
    }

    #[test]
    fn every_state_number_maps_to_its_name() {
        let names = [
            "NoState",
            "InUseOtherUser",
            "NeedsLogin",
            "NeedsMachineAuth",
            "Stopped",
            "Starting",
            "Running",
        ];
        for (i, name) in names.iter().enumerate() {
            let n = Notify::from_json(format!(r#"{{"State":{i}}}"#).as_bytes()).unwrap();
            assert_eq!(n.state.as_ref().map(BackendState::as_str), Some(*name));
        }
        let n = Notify::from_json(br#"{"State":9}"#).unwrap();
        assert_eq!(n.state, Some(BackendState::Other("9".into())));
        let n = Notify::from_json(br#"{"State":"NeedsLogin"}"#).unwrap();
        assert_eq!(n.state, Some(BackendState::NeedsLogin));
        assert!(Notify::from_json(br#"{"State":"Exploded"}"#).is_err());
    }

    #[test]
    fn self_change_netmap_and_health_count_and_peer_deltas_do_not() {
        let n =
            Notify::from_json(br#"{"SelfChange":{"CapMap":{"https":null}},"Future":[1]}"#).unwrap();
        assert!(n.self_change && n.is_interesting());
        let n = Notify::from_json(br#"{"NetMap":{"SelfNode":{}},"Version":null}"#).unwrap();
        assert!(n.net_map && n.is_interesting());
        let n = Notify::from_json(br#"{"Health":{"Warnings":null}}"#).unwrap();
        assert!(n.health.is_some() && n.is_interesting());
        // A stripped peer delta (v1.100+) and engine stats.
        assert!(
            !Notify::from_json(br#"{"Version":""}"#)
                .unwrap()
                .is_interesting()
        );
        assert!(
            !Notify::from_json(br#"{"Engine":{"RBytes":1}}"#)
                .unwrap()
                .is_interesting()
        );
    }

    #[test]
    fn final_message_when_the_watcher_fell_behind() {
        let n =
            Notify::from_json(br#"{"ErrMessage":"IPN bus consumer fell behind; closing watch"}"#)
                .unwrap();
        assert_eq!(
            n.err_message.as_deref(),
            Some("IPN bus consumer fell behind; closing watch")
        );
        let n =
            Notify::from_json(br#"{"BrowseToURL":"https://login.tailscale.com/a/x","State":2}"#)
                .unwrap();
        assert_eq!(
            n.browse_to_url.as_deref(),
            Some("https://login.tailscale.com/a/x")
        );
    }
}
