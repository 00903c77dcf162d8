//! The exporter's HTTP/1 server: `/metrics`, `/probe?target=NAME`, and an index at `/`.
//!
//! Everything else is 404, anything but GET/HEAD 405. Responses carry no secret: the pages are
//! the report's metrics, labelled by target name, and error texts name only what the query
//! said and the configured target names.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::{Exporter, Probed};

/// What Prometheus asks for and prometheus-client writes (it ends with `# EOF`).
pub const METRICS_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Connections served at once; more wait in the kernel's backlog. Far above a Prometheus pair's
/// needs, far below the descriptor limit.
const MAX_CONNECTIONS: usize = 512;

/// A client that has not sent its request headers by then is hung up on.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `exporter` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    exporter: Arc<Exporter>,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p,
            () = &mut shutdown => return,
        };
        // The semaphore is never closed.
        let Ok(permit) = permit else { return };
        let stream = tokio::select! {
            r = listener.accept() => r,
            () = &mut shutdown => return,
        };
        let stream = match stream {
            Ok((s, _)) => s,
            Err(e) => {
                // Out of descriptors and the like: the listener itself is fine, so keep going
                // once the moment has passed rather than spin on the error.
                log::warn!("exporter: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let exporter = exporter.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let exporter = exporter.clone();
                async move { Ok::<_, Infallible>(respond(&exporter, &req).await) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = conn {
                log::debug!("exporter: connection ended: {e}");
            }
            drop(permit);
        });
    }
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    reply(status, "text/plain; charset=utf-8", body + "\n")
}

/// The value of `target=` in a query string, decoded; the first one when there are several.
pub fn target_param(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "target")
        .map(|(_, v)| v.into_owned())
}

async fn respond(exporter: &Exporter, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD are served".into(),
        );
    }
    let names = || exporter.target_names().join(", ");
    match req.uri().path() {
        "/metrics" => reply(StatusCode::OK, METRICS_TYPE, exporter.metrics()),
        "/probe" => match exporter
            .probe(target_param(req.uri().query()).as_deref())
            .await
        {
            Probed::Metrics(body) => reply(StatusCode::OK, METRICS_TYPE, body),
            Probed::Missing => text(
                StatusCode::BAD_REQUEST,
                format!("give a target: /probe?target=NAME, one of: {}", names()),
            ),
            Probed::Unknown(name) => text(
                StatusCode::BAD_REQUEST,
                format!(
                    "{name:?} is not a configured target (only those are probed): {}",
                    names()
                ),
            ),
        },
        "/" => text(
            StatusCode::OK,
            format!(
                "Serve Doctor exporter\n\n/metrics  this exporter and the last result of each target\n\
                 /probe?target=NAME  diagnose one target (cached briefly)\n\ntargets: {}",
                names()
            ),
        ),
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: try /metrics or /probe".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_is_read_decoded_from_the_query() {
        assert_eq!(target_param(Some("target=local")).as_deref(), Some("local"));
        assert_eq!(
            target_param(Some("module=x&target=my%20box&target=2")).as_deref(),
            Some("my box")
        );
        assert_eq!(target_param(Some("module=x")), None);
        assert_eq!(target_param(None), None);
    }
}
