//! `recreate` over the LocalAPI: replace only our handler, atomically.
//!
//! `tailscale serve reset` wipes every port, handler and Funnel entry, and the CLI has no way to
//! swap one handler under a concurrency check. The daemon's `POST serve-config` with `If-Match`
//! does: we read the config and its ETag, change only `Web["<node>:<port>"]`'s `/` handler and
//! `TCP[port]`, and write it back on the condition that nobody changed it in between (one
//! re-read and retry on 412). Everything else stays exactly as it was. Used when tailscaled's
//! LocalAPI answers and `--tailscale` did not force the CLI; the report names the route.

use serde_json::{Map, Value, json};

use super::actions::{proxy_target_for, rediagnose};
use super::{FixError, FixOptions, FixReport, Outcome, StepRecord, backup, findings, lock};
use crate::tailscale::localapi::{LocalApi, LocalApiError, Roots, discover};
use crate::tailscale::serve::split_host_port;
use crate::tailscale::{ServeConfig, Status};

/// The LocalAPI client when this run should use it; `None` means "use the CLI".
pub(super) async fn client(opts: &FixOptions) -> Option<(LocalApi, String, Status)> {
    if opts.engine.tailscale.is_some() {
        return None;
    }
    let found = discover(opts.engine.socket.as_deref(), &Roots::system()).await;
    let api = LocalApi::new(found.endpoint.clone(), opts.engine.timeout);
    match api.status().await {
        Ok(status) => Some((
            api,
            format!("localapi {} ({})", found.endpoint, found.via.describe()),
            status,
        )),
        // A forced socket that does not answer is reported by the CLI-less path below as a
        // status error rather than silently using some other binary.
        Err(_) => None,
    }
}

/// The config with our handler set and stale-name entries on our port removed; also the lines
/// saying what is replaced or removed.
fn edited(original: &Value, dns: &str, port: u16, target: &str) -> (Value, Vec<String>) {
    let mut v = match original {
        Value::Object(m) => Value::Object(m.clone()),
        _ => Value::Object(Map::new()),
    };
    let mut removes = Vec::new();
    let ours = format!("{dns}:{port}");
    let obj = v.as_object_mut().expect("made an object above");
    for section in ["Web", "AllowFunnel"] {
        if let Some(Value::Object(m)) = obj.get_mut(section) {
            let stale: Vec<String> = m
                .keys()
                .filter(|k| split_host_port(k).is_some_and(|(h, p)| p == port && h != dns))
                .cloned()
                .collect();
            for k in stale {
                m.remove(&k);
                removes.push(format!(
                    "{section} entry for {k} (another node name on port {port})"
                ));
            }
        }
    }
    if let Some(old) = original.pointer(&format!(
        "/Web/{}/Handlers/~1",
        ours.replace('~', "~0").replace('/', "~1")
    )) {
        removes.push(format!("https://{ours}/ → {old} (replaced)"));
    }
    let tcp = obj.entry("TCP").or_insert_with(|| json!({}));
    if let Some(m) = tcp.as_object_mut() {
        m.insert(port.to_string(), json!({"HTTPS": true}));
    }
    let web = obj.entry("Web").or_insert_with(|| json!({}));
    if let Some(m) = web.as_object_mut() {
        let server = m.entry(ours).or_insert_with(|| json!({"Handlers": {}}));
        if let Some(h) = server.as_object_mut() {
            let handlers = h.entry("Handlers").or_insert_with(|| json!({}));
            if let Some(hm) = handlers.as_object_mut() {
                hm.insert("/".into(), json!({"Proxy": target}));
            }
        }
    }
    (v, removes)
}

fn step(command: &str, result: &Result<(), LocalApiError>, ms: u64) -> StepRecord {
    StepRecord {
        command: command.to_string(),
        stdout: String::new(),
        stderr: result
            .as_ref()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default(),
        code: Some(if result.is_ok() { 0 } else { 1 }),
        timed_out: matches!(result, Err(LocalApiError::Timeout { .. })),
        ms,
    }
}

fn has_ours(c: &ServeConfig, dns: &str, port: u16, target: &str) -> bool {
    c.mounts().iter().any(|m| {
        !m.foreground
            && m.host == dns
            && m.port == port
            && m.path == "/"
            && m.https
            && m.proxy.as_deref() == Some(target)
    })
}

/// `recreate` through `api`. Same contract as the CLI path: plan without `confirmed`, lock,
/// backup, write, verify by reading back, put the backup back when the result is wrong.
pub(super) async fn recreate(
    mut report: FixReport,
    opts: &FixOptions,
    api: LocalApi,
    route: String,
    status: Status,
    https_port: Option<u16>,
) -> Result<FixReport, FixError> {
    report.route = Some(route);
    let Some(_lock) = lock::for_run(&opts.data_dir, opts.confirmed)? else {
        report.outcome = Outcome::Busy;
        report.message = lock::BUSY.into();
        return Ok(report);
    };
    let Some(dns) = status.dns_name().map(str::to_string) else {
        report.outcome = Outcome::Refused;
        report.message =
            "this node has no DNS name (logged out?): log in to Tailscale first".into();
        return Ok(report);
    };
    if status.backend_state != "Running" {
        report.outcome = Outcome::Refused;
        report.message = format!(
            "Tailscale is not running (state {}): connect it first",
            status.backend_state
        );
        return Ok(report);
    }
    let (cfg, raw, etag) = api
        .serve_config()
        .await
        .map_err(|e| FixError::ServeConfig(e.to_string()))?;
    let (target, port) = proxy_target_for(opts, &cfg, https_port);
    let original: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
    let (new, removes) = edited(&original, &dns, port, &target);
    let shown = format!(
        "POST /localapi/v0/serve-config (If-Match: the ETag just read): https://{dns}{}/ → {target}",
        if port == 443 {
            String::new()
        } else {
            format!(":{port}")
        }
    );
    report.plan.commands = vec![shown.clone()];
    report.plan.removes = removes;
    report.plan.notes.push(
        "only this node's `/` handler on that port changes; every other handler, port, TCP forward and Funnel entry stays as it is (the write is refused if the config changed since it was read)".into(),
    );
    report
        .plan
        .undo
        .push("serve-doctor fix restore --yes (restores the backup this run writes)".into());
    report.url = Some(format!(
        "https://{dns}{}/",
        if port == 443 {
            String::new()
        } else {
            format!(":{port}")
        }
    ));
    if has_ours(&cfg, &dns, port, &target) && removes_nothing(&report) {
        report.outcome = Outcome::Done;
        report.verified = true;
        report.message = format!("serve is already set up for {dns} → {target}; nothing to change");
        return Ok(report);
    }
    if !opts.confirmed {
        report.outcome = Outcome::Planned;
        report.message =
            "nothing changed: confirm (--yes) to back up the config and write it".into();
        return Ok(report);
    }
    let path = backup::write(&opts.data_dir, &dns, &raw, chrono::Utc::now()).map_err(|source| {
        FixError::Backup {
            dir: backup::dir(&opts.data_dir),
            source,
        }
    })?;
    report.backup = Some(path.clone());

    let mut body = serde_json::to_vec(&new).unwrap_or_default();
    let mut if_match = etag;
    let mut result = Ok(());
    let mut raced = false;
    for attempt in 0..2 {
        let started = std::time::Instant::now();
        result = api.set_serve_config(&body, if_match.as_deref()).await;
        report
            .steps
            .push(step(&shown, &result, started.elapsed().as_millis() as u64));
        // Someone changed the config between our read and our write: read again, redo our
        // edit on what is there now, and try once more.
        if attempt == 0 && matches!(result, Err(LocalApiError::PreconditionFailed { .. })) {
            let (_, raw2, etag2) = api
                .serve_config()
                .await
                .map_err(|e| FixError::ServeConfig(e.to_string()))?;
            let now: Value = serde_json::from_str(&raw2).unwrap_or(Value::Null);
            body = serde_json::to_vec(&edited(&now, &dns, port, &target).0).unwrap_or_default();
            if_match = etag2;
            raced = true;
            continue;
        }
        break;
    }
    if let Err(e) = &result {
        for f in findings::scan(&e.to_string(), false) {
            if !report.findings.contains(&f) {
                report.findings.push(f);
            }
        }
    }
    let back = api.serve_config().await;
    let ok = result.is_ok()
        && back
            .as_ref()
            .is_ok_and(|(c, _, _)| has_ours(c, &dns, port, &target));
    if ok {
        report.verified = true;
        report.outcome = Outcome::Done;
        report.message =
            format!("serve recreated for {dns} over the LocalAPI (other handlers untouched)");
        if raced {
            report.message.push_str(
                "; another client changed the serve config between our read and our write (the daemon refused our first write on its ETag): its change is kept and ours was redone on top of it",
            );
        }
        rediagnose(&mut report, opts).await;
        return Ok(report);
    }
    report.outcome = Outcome::Failed;
    let why = match (&result, &back) {
        (Err(LocalApiError::Denied { .. }), _) => {
            "tailscaled refused the change (serve config denied): run `sudo tailscale set --operator=$USER` once".to_string()
        }
        (Err(e), _) => e.to_string(),
        (Ok(()), Err(e)) => format!("cannot read the config back: {e}"),
        (Ok(()), Ok(_)) => "the config read back does not have our handler".to_string(),
    };
    let changed = back
        .as_ref()
        .is_ok_and(|(_, r, _)| serde_json::from_str::<Value>(r).ok() != Some(original.clone()));
    let mut msg = format!("the change is not in place ({why})");
    if changed {
        // Unconditional: whatever is there now is our half-done change.
        let restore_body = if original.is_null() {
            b"{}".to_vec()
        } else {
            raw.clone().into_bytes()
        };
        let put_back = api.set_serve_config(&restore_body, None).await;
        report.steps.push(step(
            "POST /localapi/v0/serve-config (the backup, unconditional)",
            &put_back,
            0,
        ));
        report.rolled_back = put_back.is_ok();
        msg.push_str(if report.rolled_back {
            ". The previous config was put back from the backup."
        } else {
            ". Putting the previous config back FAILED: run `serve-doctor fix restore --yes`"
        });
    } else {
        msg.push_str(". Nothing was changed.");
    }
    report.message = msg;
    Ok(report)
}

fn removes_nothing(r: &FixReport) -> bool {
    r.plan.removes.iter().all(|l| l.ends_with("(replaced)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_touches_only_our_handler_and_stale_names_on_our_port() {
        let original = json!({
            "TCP": {"443": {"HTTPS": true}, "8443": {"HTTPS": true}, "2222": {"TCPForward": "127.0.0.1:22"}},
            "Web": {
                "box.t.ts.net:443": {"Handlers": {"/": {"Proxy": "http://127.0.0.1:3000"}, "/docs/": {"Path": "/srv"}}},
                "box.t.ts.net:8443": {"Handlers": {"/": {"Proxy": "http://127.0.0.1:18081"}}},
                "old.t.ts.net:443": {"Handlers": {"/": {"Proxy": "http://127.0.0.1:3000"}}}
            },
            "AllowFunnel": {"box.t.ts.net:443": true, "old.t.ts.net:443": true}
        });
        let (v, removes) = edited(&original, "box.t.ts.net", 443, "http://127.0.0.1:18080");
        assert_eq!(
            v["Web"]["box.t.ts.net:443"]["Handlers"]["/"]["Proxy"],
            "http://127.0.0.1:18080"
        );
        assert_eq!(
            v["Web"]["box.t.ts.net:443"]["Handlers"]["/docs/"]["Path"],
            "/srv"
        );
        assert_eq!(
            v["Web"]["box.t.ts.net:8443"],
            original["Web"]["box.t.ts.net:8443"]
        );
        assert_eq!(v["TCP"]["2222"], original["TCP"]["2222"]);
        assert_eq!(v["AllowFunnel"]["box.t.ts.net:443"], true);
        assert!(v["Web"].get("old.t.ts.net:443").is_none());
        assert!(v["AllowFunnel"].get("old.t.ts.net:443").is_none());
        assert_eq!(removes.len(), 3, "{removes:?}");
    }

    #[test]
    fn empty_config_gets_just_our_handler() {
        let (v, removes) = edited(&Value::Null, "box.t.ts.net", 443, "http://127.0.0.1:18080");
        assert_eq!(
            v,
            json!({"TCP": {"443": {"HTTPS": true}}, "Web": {"box.t.ts.net:443": {"Handlers": {"/": {"Proxy": "http://127.0.0.1:18080"}}}}})
        );
        assert!(removes.is_empty());
    }
}
