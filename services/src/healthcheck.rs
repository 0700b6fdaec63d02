//! `qs-service healthcheck`: GET http://127.0.0.1:$PORT/livez within 2 s, exit 0 or 1.
//! Scratch images have no curl, so Docker's HEALTHCHECK runs the binary itself.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

pub const TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    #[error("PORT is not set or not a port number")]
    NoPort,
    #[error("no answer from {addr}: {source}")]
    Io {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("/livez answered {0:?}")]
    Status(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// Probes `/livez` on loopback `port`.
pub fn check(port: u16, timeout: Duration) -> Result<(), HealthcheckError> {
    let deadline = Instant::now() + timeout;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let io = |source| HealthcheckError::Io { addr, source };
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(io)?;
    let left = deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or(HealthcheckError::Timeout(timeout))?;
    stream.set_read_timeout(Some(left)).map_err(io)?;
    stream.set_write_timeout(Some(left)).map_err(io)?;
    stream
        .write_all(b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .map_err(io)?;
    let mut head = [0u8; 64];
    let mut read = 0;
    // The status line is all we need; stop once it is in.
    while read < head.len() && !head[..read].contains(&b'\n') {
        match stream.read(&mut head[read..]).map_err(io)? {
            0 => break,
            n => read += n,
        }
    }
    let text = String::from_utf8_lossy(&head[..read]);
    let status_line = text.lines().next().unwrap_or_default().trim().to_owned();
    if status_line.starts_with("HTTP/1.1 200") || status_line.starts_with("HTTP/1.0 200") {
        Ok(())
    } else {
        Err(HealthcheckError::Status(status_line))
    }
}

/// Reads `PORT` and probes; the binary maps the result to its exit code.
pub fn run_from_env() -> Result<(), HealthcheckError> {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.trim().parse::<u16>().ok())
        .filter(|p| *p > 0)
        .ok_or(HealthcheckError::NoPort)?;
    check(port, TIMEOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_port_fails_fast() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let started = Instant::now();
        assert!(check(port, TIMEOUT).is_err());
        assert!(started.elapsed() < TIMEOUT);
    }

    #[test]
    fn reads_the_status_line() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf).unwrap();
            s.write_all(b"HTTP/1.1 503 Service Unavailable\r\n\r\n")
                .unwrap();
        });
        let err = check(port, TIMEOUT).unwrap_err();
        assert!(err.to_string().contains("503"), "{err}");
        server.join().unwrap();
    }
}
