//! Dialing through a SOCKS5 proxy (RFC 1928, no authentication, CONNECT only).
//!
//! Two vantage points need it: a userspace-networking node, whose tailscaled can run a SOCKS5
//! proxy into the tailnet (`--socks5-server`), and a remote node reached over SSH, whose
//! loopback this machine reaches through `ssh -D`. The host is sent as a name when it is one,
//! so the proxy resolves it where it stands (MagicDNS names on the tailnet side, `localhost` on
//! the remote node).

use std::net::IpAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Asks the proxy on `stream` to connect to `host:port`. `Err` says what went wrong, in words.
pub(crate) async fn connect(stream: &mut TcpStream, host: &str, port: u16) -> Result<(), String> {
    // Greeting: version 5, one method, "no authentication".
    stream
        .write_all(&[5, 1, 0])
        .await
        .map_err(|e| format!("SOCKS5 greeting: {e}"))?;
    let mut reply = [0u8; 2];
    stream
        .read_exact(&mut reply)
        .await
        .map_err(|e| format!("SOCKS5 greeting reply: {e}"))?;
    if reply != [5, 0] {
        return Err(format!(
            "the proxy does not accept SOCKS5 without authentication (answered {reply:?})"
        ));
    }
    let mut req = vec![5, 1, 0];
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            req.push(1);
            req.extend_from_slice(&ip.octets());
        }
        Ok(IpAddr::V6(ip)) => {
            req.push(4);
            req.extend_from_slice(&ip.octets());
        }
        Err(_) => {
            let name = host.as_bytes();
            let len = u8::try_from(name.len()).map_err(|_| format!("{host:?} is too long"))?;
            req.push(3);
            req.push(len);
            req.extend_from_slice(name);
        }
    }
    req.extend_from_slice(&port.to_be_bytes());
    stream
        .write_all(&req)
        .await
        .map_err(|e| format!("SOCKS5 request: {e}"))?;
    let mut head = [0u8; 4];
    stream
        .read_exact(&mut head)
        .await
        .map_err(|e| format!("SOCKS5 reply: {e}"))?;
    if head[1] != 0 {
        return Err(reply_text(head[1]).to_string());
    }
    // The bound address that follows is of no use to us, but must be read off the stream.
    let skip = match head[3] {
        1 => 4,
        4 => 16,
        3 => {
            let mut len = [0u8; 1];
            stream
                .read_exact(&mut len)
                .await
                .map_err(|e| format!("SOCKS5 reply: {e}"))?;
            usize::from(len[0])
        }
        other => return Err(format!("SOCKS5 reply with address type {other}")),
    };
    let mut rest = vec![0u8; skip + 2];
    stream
        .read_exact(&mut rest)
        .await
        .map_err(|e| format!("SOCKS5 reply: {e}"))?;
    Ok(())
}

/// RFC 1928's reply codes, as the evidence says them.
fn reply_text(code: u8) -> &'static str {
    match code {
        1 => "the proxy failed (general SOCKS server failure)",
        2 => "the proxy's rules do not allow this connection",
        3 => "network unreachable (from the proxy)",
        4 => "host unreachable (from the proxy)",
        5 => "connection refused (nothing listening there)",
        6 => "TTL expired",
        7 => "the proxy does not support CONNECT",
        8 => "address type not supported by the proxy",
        _ => "the proxy refused",
    }
}

/// Whether a reply text means "refused", so the TCP evidence can say `Refused`.
pub(crate) fn is_refused(text: &str) -> bool {
    text == reply_text(5)
}
