//! Recognising a Let's Encrypt rate limit in what `tailscale cert` (or the LocalAPI cert call)
//! said, and how long it asks to wait.
//!
//! The daemon passes the CA's problem through: `urn:ietf:params:acme:error:rateLimited` with a
//! detail such as "too many certificates (5) already issued for this exact set of identifiers
//! in the last 168h0m0s, retry after 2026-08-29 17:13:03 UTC: see …". Since 1.102 the LocalAPI
//! answers it as HTTP 429 with `Retry-After` seconds (`certRateLimitedError` in
//! `feature/acme/errors.go`); the CLI prints "429 Too Many Requests: …", older ones "500 …".

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};

/// A rate limit, with the wait when the text names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// When the CA says to try again.
    pub until: Option<DateTime<Utc>>,
}

/// The rate limit `text` reports, if it reports one. `now` turns a `Retry-After: N` into a time.
pub fn parse(text: &str, now: DateTime<Utc>) -> Option<RateLimit> {
    let lower = text.to_ascii_lowercase();
    let limited = lower.contains("error:ratelimited")
        || lower.contains("too many certificates")
        || lower.contains("too many failed authorizations")
        || lower.contains("too many new orders")
        || lower.starts_with("429 too many requests");
    if !limited {
        return None;
    }
    let until = retry_after_time(&lower).or_else(|| {
        retry_after_secs(&lower)
            .and_then(|s| TimeDelta::try_seconds(i64::try_from(s).ok()?))
            .map(|d| now + d)
    });
    Some(RateLimit { until })
}

/// "retry after 2026-08-29 17:13:03 utc" (Let's Encrypt's detail text).
fn retry_after_time(lower: &str) -> Option<DateTime<Utc>> {
    let i = lower.find("retry after ")?;
    let rest = &lower[i + "retry after ".len()..];
    let stamp: String = rest.chars().take(19).collect();
    NaiveDateTime::parse_from_str(&stamp, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
}

/// "retry-after: 3600" (the header, where a caller put it into the text).
fn retry_after_secs(lower: &str) -> Option<u64> {
    let i = lower.find("retry-after:")?;
    let digits: String = lower[i + "retry-after:".len()..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The sentence for the summary: what it is, how long to wait, and what not to do.
pub fn sentence(rl: &RateLimit, name: &str, now: DateTime<Utc>) -> String {
    let wait = match rl.until {
        Some(t) if t > now => format!(
            "wait until {} ({} from now) before trying again",
            t.format("%Y-%m-%d %H:%M UTC"),
            human(t - now)
        ),
        Some(_) => "the wait it asked for is over: diagnose again".to_string(),
        None => "wait (Let's Encrypt's limits reset within a week at most) before trying again"
            .to_string(),
    };
    format!(
        "Let's Encrypt is rate-limiting certificates for {name}: {wait}. Do not wipe tailscaled's state, log out and back in or re-add the machine to start fresh: every new attempt counts against the limit and makes the wait longer."
    )
}

fn human(d: TimeDelta) -> String {
    let mins = d.num_minutes().max(1);
    match (mins / (60 * 24), (mins / 60) % 24, mins % 60) {
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (days, h, _) => format!("{days} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-08-26T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    const LE: &str = "429 Too Many Requests: 429 urn:ietf:params:acme:error:rateLimited: too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s, retry after 2026-08-29 17:13:03 UTC: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-exact-set-of-identifiers";

    #[test]
    fn the_cli_text_names_the_limit_and_the_time() {
        let rl = parse(LE, now()).unwrap();
        assert_eq!(rl.until.unwrap().to_rfc3339(), "2026-08-29T17:13:03+00:00");
        let s = sentence(&rl, "box.t.ts.net", now());
        assert!(
            s.contains("wait until 2026-08-29 17:13 UTC (3 d 5 h from now)"),
            "{s}"
        );
        assert!(s.contains("Do not wipe tailscaled's state"), "{s}");
        // Before 1.102 the daemon answered 500 with the same problem.
        let old = LE.replace("429 Too Many Requests: ", "500 Internal Server Error: ");
        assert!(parse(&old, now()).is_some());
    }

    #[test]
    fn a_retry_after_header_counts_from_now_and_other_errors_are_not_limits() {
        let rl = parse(
            "HTTP 429 (Retry-After: 5400): urn:ietf:params:acme:error:rateLimited: slow down",
            now(),
        )
        .unwrap();
        assert_eq!(rl.until, Some(now() + TimeDelta::seconds(5400)));
        assert!(sentence(&rl, "n", now()).contains("1 h 30 min"));
        let bare = parse("urn:ietf:params:acme:error:rateLimited", now()).unwrap();
        assert_eq!(bare.until, None);
        for other in [
            "500 Internal Server Error: your Tailscale account does not support getting TLS certs",
            "acme: authorization error for box.t.ts.net: 403 urn:ietf:params:acme:error:unauthorized",
            "",
        ] {
            assert_eq!(parse(other, now()), None, "{other}");
        }
    }
}
