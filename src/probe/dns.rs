//! Name resolution as evidence: one DNS server asked directly (MagicDNS, tailscaled's resolver
//! at 100.100.100.100), and the system resolver, as a browser on this device would use it.
//!
//! The query is written by hand: an A and an AAAA question over UDP, and the addresses read
//! back, are all the diagnosis needs. A resolver crate would bring a whole DNS stack (and its
//! own configuration of this device's resolvers, which is exactly what must not be mixed in:
//! the point is to ask 100.100.100.100 and nothing else).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use serde::Serialize;
use tokio::net::UdpSocket;
use tokio::time::Instant;

/// tailscaled's DNS resolver, on every node that uses MagicDNS.
pub const MAGICDNS: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(100, 100, 100, 100)), 53);

/// How long to wait for the other answer once one has brought addresses: a resolver that
/// answers A at once and never AAAA must not cost the whole timeout.
const SECOND_ANSWER_GRACE: Duration = Duration::from_millis(300);

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const RCODE_NXDOMAIN: u8 = 3;

/// What asking for a name found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DnsOutcome {
    Resolved {
        ips: Vec<IpAddr>,
    },
    /// The resolver answered: no such name, or no address for it.
    NotFound {
        detail: String,
    },
    /// No usable answer: nothing answered in time, the server cannot be reached, the reply was
    /// malformed, the resolver failed.
    NoAnswer {
        reason: String,
    },
}

impl DnsOutcome {
    pub fn ips(&self) -> &[IpAddr] {
        match self {
            DnsOutcome::Resolved { ips } => ips,
            _ => &[],
        }
    }
}

/// Asks `server` for the A and AAAA records of `name`, within `timeout`.
pub async fn query(server: SocketAddr, name: &str, timeout: Duration) -> DnsOutcome {
    let deadline = Instant::now() + timeout;
    let Some(qname) = encode_name(name) else {
        return DnsOutcome::NotFound {
            detail: format!("{name:?} is not a DNS name"),
        };
    };
    let bind: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let no_answer = |what: &str, e: std::io::Error| DnsOutcome::NoAnswer {
        reason: format!("{what} {server}: {e}"),
    };
    let socket = match UdpSocket::bind(bind).await {
        Ok(s) => s,
        Err(e) => return no_answer("cannot open a socket for", e),
    };
    // A connected socket only receives from `server`: a stray datagram is not an answer.
    if let Err(e) = socket.connect(server).await {
        return no_answer("cannot reach", e);
    }
    let base = query_id();
    let ids = [base, base.wrapping_add(1)];
    for (id, qtype) in ids.iter().zip([TYPE_A, TYPE_AAAA]) {
        if let Err(e) = socket.send(&question(*id, &qname, qtype)).await {
            return no_answer("cannot send to", e);
        }
    }
    let mut answers: [Option<Answer>; 2] = [None, None];
    let mut stop = deadline;
    let mut buf = vec![0u8; 4096];
    while answers.iter().any(Option::is_none) {
        match tokio::time::timeout_at(stop, socket.recv(&mut buf)).await {
            Ok(Ok(n)) => {
                let Some(reply) = buf.get(..n) else { continue };
                let Some((id, answer)) = parse_reply(reply) else {
                    continue;
                };
                if let Some(i) = ids.iter().position(|x| *x == id) {
                    if matches!(&answer, Answer::Addresses(ips) if !ips.is_empty()) {
                        stop = stop.min(Instant::now() + SECOND_ANSWER_GRACE);
                    }
                    answers[i] = Some(answer);
                }
            }
            // An ICMP "port unreachable" for the first datagram shows up as an error here.
            Ok(Err(e)) => return no_answer("no answer from", e),
            Err(_) => break,
        }
    }
    combine(&answers, server, timeout)
}

/// What one reply said.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Addresses(Vec<IpAddr>),
    NxDomain,
    /// Another response code (SERVFAIL, REFUSED, …).
    Failed(u8),
}

fn combine(answers: &[Option<Answer>; 2], server: SocketAddr, timeout: Duration) -> DnsOutcome {
    let mut ips: Vec<IpAddr> = Vec::new();
    for a in answers.iter().flatten() {
        if let Answer::Addresses(found) = a {
            ips.extend(
                found
                    .iter()
                    .filter(|ip| !ips.contains(ip))
                    .collect::<Vec<_>>(),
            );
        }
    }
    if !ips.is_empty() {
        return DnsOutcome::Resolved { ips };
    }
    let got: Vec<&Answer> = answers.iter().flatten().collect();
    if got.is_empty() {
        return DnsOutcome::NoAnswer {
            reason: format!("{server} did not answer within {} ms", timeout.as_millis()),
        };
    }
    if let Some(Answer::Failed(code)) = got.iter().find(|a| matches!(a, Answer::Failed(_))) {
        return DnsOutcome::NoAnswer {
            reason: format!("{server} answered with error code {code}"),
        };
    }
    let detail = if got.contains(&&Answer::NxDomain) {
        format!("{server} says there is no such name (NXDOMAIN)")
    } else {
        format!("{server} knows the name but has no address for it")
    };
    DnsOutcome::NotFound { detail }
}

/// The system resolver's answer for `name` (getaddrinfo: hosts file, the resolvers this device
/// is set to, a DoH app's or Private DNS's own), within `timeout`.
pub async fn system(name: &str, timeout: Duration) -> DnsOutcome {
    match tokio::time::timeout(timeout, tokio::net::lookup_host((name, 0))).await {
        Ok(Ok(addrs)) => {
            let mut ips: Vec<IpAddr> = Vec::new();
            for a in addrs {
                if !ips.contains(&a.ip()) {
                    ips.push(a.ip());
                }
            }
            match ips.is_empty() {
                true => DnsOutcome::NotFound {
                    detail: "the system resolver found no address".into(),
                },
                false => DnsOutcome::Resolved { ips },
            }
        }
        Ok(Err(e)) => DnsOutcome::NotFound {
            detail: format!("the system resolver: {e}"),
        },
        Err(_) => DnsOutcome::NoAnswer {
            reason: format!(
                "the system resolver did not answer within {} ms",
                timeout.as_millis()
            ),
        },
    }
}

/// Not a security measure (the socket is connected to one server): only tells our two
/// questions' answers apart from a late answer to an earlier run.
fn query_id() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (nanos ^ std::process::id()) as u16
}

/// `name` in DNS wire format, or `None` when it is not a DNS name.
fn encode_name(name: &str) -> Option<Vec<u8>> {
    let name = name.trim_end_matches('.');
    if name.is_empty() || name.len() > 253 {
        return None;
    }
    let mut out = Vec::with_capacity(name.len() + 2);
    for label in name.split('.') {
        let len = u8::try_from(label.len())
            .ok()
            .filter(|l| (1..=63).contains(l))?;
        out.push(len);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    Some(out)
}

fn question(id: u16, qname: &[u8], qtype: u16) -> Vec<u8> {
    let mut q = Vec::with_capacity(12 + qname.len() + 4);
    q.extend_from_slice(&id.to_be_bytes());
    // Flags: a standard query with recursion desired; one question.
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    q.extend_from_slice(qname);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    q
}

/// A reply's id and what it says; `None` for anything that is not a well-formed response.
fn parse_reply(b: &[u8]) -> Option<(u16, Answer)> {
    let u16_at = |i: usize| Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]));
    let id = u16_at(0)?;
    let flags = u16_at(2)?;
    if flags & 0x8000 == 0 {
        return None;
    }
    let rcode = (flags & 0x000f) as u8;
    if rcode == RCODE_NXDOMAIN {
        return Some((id, Answer::NxDomain));
    }
    if rcode != 0 {
        return Some((id, Answer::Failed(rcode)));
    }
    let (qd, an) = (u16_at(4)?, u16_at(6)?);
    let mut at = 12;
    for _ in 0..qd {
        at = skip_name(b, at)? + 4;
    }
    let mut ips = Vec::new();
    for _ in 0..an {
        at = skip_name(b, at)?;
        let rtype = u16_at(at)?;
        let len = usize::from(u16_at(at + 8)?);
        let data = b.get(at + 10..at + 10 + len)?;
        match (rtype, <[u8; 4]>::try_from(data), <[u8; 16]>::try_from(data)) {
            (TYPE_A, Ok(v4), _) => ips.push(IpAddr::from(v4)),
            (TYPE_AAAA, _, Ok(v6)) => ips.push(IpAddr::from(v6)),
            // A CNAME on the way, or a record type we did not ask about.
            _ => {}
        }
        at += 10 + len;
    }
    Some((id, Answer::Addresses(ips)))
}

/// The offset just past the name at `at` (labels, ending in a zero or a compression pointer).
fn skip_name(b: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *b.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => return Some(at + 2),
            l => at += 1 + usize::from(l),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply to `q` with `rcode` and the given addresses, the answer names compressed.
    fn reply(q: &[u8], rcode: u8, ips: &[IpAddr]) -> Vec<u8> {
        let mut r = q.to_vec();
        r[2] = 0x81;
        r[3] = 0x80 | rcode;
        r[6..8].copy_from_slice(&(ips.len() as u16).to_be_bytes());
        for ip in ips {
            r.extend_from_slice(&[0xc0, 12]);
            let (t, data) = match ip {
                IpAddr::V4(v4) => (TYPE_A, v4.octets().to_vec()),
                IpAddr::V6(v6) => (TYPE_AAAA, v6.octets().to_vec()),
            };
            r.extend_from_slice(&t.to_be_bytes());
            r.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            r.extend_from_slice(&(data.len() as u16).to_be_bytes());
            r.extend_from_slice(&data);
        }
        r
    }

    #[test]
    fn replies_are_read_and_garbage_is_not() {
        let qname = encode_name("server.tailnet.test.").unwrap();
        let q = question(7, &qname, TYPE_A);
        let ip: IpAddr = "100.64.0.1".parse().unwrap();
        assert_eq!(
            parse_reply(&reply(&q, 0, &[ip])),
            Some((7, Answer::Addresses(vec![ip])))
        );
        assert_eq!(parse_reply(&reply(&q, 3, &[])), Some((7, Answer::NxDomain)));
        assert_eq!(
            parse_reply(&reply(&q, 2, &[])),
            Some((7, Answer::Failed(2)))
        );
        // A query is not an answer; a truncated answer is nothing.
        assert_eq!(parse_reply(&q), None);
        let full = reply(&q, 0, &[ip]);
        assert_eq!(parse_reply(&full[..full.len() - 1]), None);
        assert_eq!(parse_reply(&[]), None);
        assert_eq!(encode_name(""), None);
        assert_eq!(encode_name(&"a".repeat(64)), None);
        assert_eq!(encode_name("a..b"), None);
    }

    #[tokio::test]
    async fn a_server_is_asked_for_both_families_and_silence_is_no_answer() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        let v6: IpAddr = "fd7a:115c:a1e0::1".parse().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            for _ in 0..2 {
                let (n, from) = server.recv_from(&mut buf).await.unwrap();
                let q = &buf[..n];
                let ips: Vec<IpAddr> = match u16::from_be_bytes([q[n - 4], q[n - 3]]) {
                    TYPE_AAAA => vec![v6],
                    _ => vec!["100.64.0.1".parse().unwrap()],
                };
                server.send_to(&reply(q, 0, &ips), from).await.unwrap();
            }
        });
        let got = query(addr, "server.tailnet.test", Duration::from_secs(2)).await;
        assert_eq!(got.ips(), ["100.64.0.1".parse::<IpAddr>().unwrap(), v6]);

        let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let got = query(
            silent.local_addr().unwrap(),
            "x.test",
            Duration::from_millis(200),
        )
        .await;
        assert!(matches!(got, DnsOutcome::NoAnswer { .. }), "{got:?}");
    }
}
