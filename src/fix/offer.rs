//! Which write actions to offer for a diagnosis: the rules that pick them, next to the actions
//! themselves, so a new action or cause changes them here and every front end follows.
//!
//! Pure: a cause or a fix id in, [`Action`]s out. The desktop menu asks here which fixes become
//! "plan, confirm, run" items and which serve actions apply under the current cause; what the
//! items say stays with the menu.

use crate::diagnosis::{Cause, FixId};
use crate::fix::Action;

/// The write action a diagnosis fix stands for; `None` when the fix is a page to open or a
/// command to copy. Configuring serve from nothing and switching plain HTTP to HTTPS are both
/// "reset, then `serve --bg --https`": recreate.
pub fn write_action(id: FixId) -> Option<Action> {
    match id {
        FixId::RecreateServe | FixId::ConfigureServe | FixId::ServeHttps => Some(recreate()),
        FixId::HttpFallback => Some(Action::HttpFallback),
        FixId::Funnel => Some(Action::FunnelOn),
        // Listed one by one so a new fix id has to be decided here.
        FixId::InstallTailscale
        | FixId::StartTailscale
        | FixId::CheckCliAccess
        | FixId::LogIn
        | FixId::ApproveMachine
        | FixId::OpenAdminDns
        | FixId::WaitForCert
        | FixId::CheckDaemonLogs
        | FixId::RenewCert
        | FixId::StartBackend
        | FixId::ServeInsecureBackend
        | FixId::EditPolicy
        | FixId::CheckNetwork
        | FixId::SshTunnel
        | FixId::DiagnoseThere
        | FixId::FixDeviceDns
        | FixId::ClearBrowserCache => None,
    }
}

/// Whether tailscaled answers and the node is up under `cause`, so the serve config can be
/// changed at all. A cause seen from another device is about a serve config on another node:
/// nothing here is offered for it.
pub fn serve_writable(cause: Cause) -> bool {
    !matches!(
        cause,
        Cause::TailscaleNotFound
            | Cause::DaemonUnreachable
            | Cause::StatusUnparseable
            | Cause::Stopped
            | Cause::NeedsLogin
            | Cause::NeedsApproval
            | Cause::PeerNotFound
            | Cause::NameUnresolved
            | Cause::DeviceDns
            | Cause::PeerOffline
            | Cause::PeerUnreachable
            | Cause::PeerNoCert
            | Cause::PeerCertStuck
            | Cause::PeerCertInvalid
            | Cause::PeerBackendDown
            | Cause::PeerServeFailing
    )
}

/// The serve actions that apply under `cause`, whatever the cause's own fixes are, in the order
/// a menu lists them: recreate, Funnel on, Funnel off, restore. Funnel needs a working
/// certificate (it serves the same one), so it is offered only when HTTPS works; turning it off
/// needs a serve config; restoring needs a backup (`has_backup`).
pub fn serve_actions(cause: Cause, has_backup: bool) -> Vec<Action> {
    if !serve_writable(cause) {
        return Vec::new();
    }
    let cert_works = matches!(
        cause,
        Cause::Healthy | Cause::BackendDown | Cause::BackendNotResponding | Cause::CertExpiring
    );
    let configured = cause != Cause::ServeNotConfigured;
    [
        (recreate(), true),
        (Action::FunnelOn, cert_works),
        (Action::FunnelOff, configured),
        (
            Action::Restore {
                backup: None,
                rename_to_current: false,
            },
            has_backup,
        ),
    ]
    .into_iter()
    .filter_map(|(a, applies)| applies.then_some(a))
    .collect()
}

/// Recreate with the defaults the menu offers: the other handlers are dropped (the plan lists
/// them and offers keeping them) and the HTTPS port is the existing one.
fn recreate() -> Action {
    Action::Recreate {
        keep_others: false,
        https_port: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(actions: &[Action]) -> Vec<&'static str> {
        actions.iter().map(Action::name).collect()
    }

    #[test]
    fn fixes_that_write_become_their_action() {
        assert_eq!(write_action(FixId::RecreateServe), Some(recreate()));
        assert_eq!(write_action(FixId::ConfigureServe), Some(recreate()));
        assert_eq!(write_action(FixId::ServeHttps), Some(recreate()));
        assert_eq!(
            write_action(FixId::HttpFallback),
            Some(Action::HttpFallback)
        );
        assert_eq!(write_action(FixId::Funnel), Some(Action::FunnelOn));
        assert_eq!(write_action(FixId::OpenAdminDns), None);
        assert_eq!(write_action(FixId::SshTunnel), None);
        for id in FixId::ALL {
            if let Some(a) = write_action(*id) {
                assert!(a.writes(), "{id:?}");
            }
        }
    }

    #[test]
    fn serve_actions_apply_to_their_causes() {
        assert_eq!(
            names(&serve_actions(Cause::Healthy, true)),
            ["recreate", "funnel-on", "funnel-off", "restore"]
        );
        // No certificate: Funnel cannot help (it serves the same one).
        assert_eq!(
            names(&serve_actions(Cause::CertIssuanceFailing, true)),
            ["recreate", "funnel-off", "restore"]
        );
        assert_eq!(
            names(&serve_actions(Cause::ServeNotConfigured, true)),
            ["recreate", "restore"]
        );
        assert_eq!(
            names(&serve_actions(Cause::BackendDown, false)),
            ["recreate", "funnel-on", "funnel-off"],
            "nothing to restore"
        );
        // Nothing can be written while Tailscale is down.
        assert!(serve_actions(Cause::Stopped, true).is_empty());
        assert!(serve_actions(Cause::DaemonUnreachable, true).is_empty());
        assert!(serve_actions(Cause::NeedsLogin, true).is_empty());
    }
}
