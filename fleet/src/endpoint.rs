//! Where an engine is: `--docker-host NAME=ENDPOINT`, parsed and checked once at start.
//!
//! An endpoint is `unix:///path` (or a bare socket path), `tcp://host:port` or
//! `http://host:port`; `tcp://` takes TLS files as query parameters
//! (`?ca=ca.pem&cert=cert.pem&key=key.pem`, all three or none). `address=IP` says where
//! the engine's published ports are reached (default: the tcp endpoint's host, else
//! 127.0.0.1). Without `NAME=`, the engine is called `local`.

use std::path::PathBuf;

use crate::LOCAL_HOST;

/// TLS client files for a `tcp://` engine (as `docker --tlsverify` takes them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// One Docker engine QuantumState talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSpec {
    /// The host's name in results (`host`) and in qualified service names (`NAME/service`).
    pub name: String,
    /// None: `DOCKER_HOST`, else the local socket.
    pub endpoint: Option<String>,
    pub tls: Option<TlsFiles>,
    /// Where published ports are reached from here (probes of `/health`).
    pub address: String,
}

impl HostSpec {
    /// The default engine: `local`, from `DOCKER_HOST` or the local socket.
    pub fn local() -> HostSpec {
        HostSpec {
            name: LOCAL_HOST.into(),
            endpoint: None,
            tls: None,
            address: "127.0.0.1".into(),
        }
    }

    /// Host `local` at this endpoint (no TLS, ports on 127.0.0.1).
    pub fn at(endpoint: &str) -> HostSpec {
        HostSpec {
            endpoint: Some(endpoint.to_string()),
            ..HostSpec::local()
        }
    }

    /// Parses `NAME=ENDPOINT` or a bare `ENDPOINT`; the error says what is wrong.
    pub fn parse(s: &str) -> Result<HostSpec, String> {
        let s = s.trim();
        let (name, rest) = match s.split_once('=') {
            Some((n, r)) if !n.contains([':', '/', '?']) => (n.trim(), r.trim()),
            _ => (LOCAL_HOST, s),
        };
        if name.is_empty()
            || name.len() > 32
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(format!(
                "docker host name {name:?} must be 1-32 letters, digits, - _ ."
            ));
        }
        let (endpoint, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut params = std::collections::BTreeMap::new();
        for kv in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            if !["ca", "cert", "key", "address"].contains(&k) {
                return Err(format!(
                    "docker host {name}: unknown parameter {k:?} (ca, cert, key, address)"
                ));
            }
            params.insert(k.to_string(), v.to_string());
        }
        if endpoint.starts_with("ssh://") {
            return Err(format!(
                "docker host {name}: ssh:// endpoints are not supported; forward the engine's \
                 socket (ssh -L /tmp/{name}.sock:/var/run/docker.sock HOST) and use unix://"
            ));
        }
        let tcp = endpoint.starts_with("tcp://") || endpoint.starts_with("http://");
        if !tcp && endpoint.contains("://") && !endpoint.starts_with("unix://") {
            return Err(format!(
                "docker host {name}: endpoint {endpoint:?} is not unix://, tcp:// or http://"
            ));
        }
        let tls = match (params.get("ca"), params.get("cert"), params.get("key")) {
            (None, None, None) => None,
            (Some(ca), Some(cert), Some(key)) if tcp => {
                let files = TlsFiles {
                    ca: ca.into(),
                    cert: cert.into(),
                    key: key.into(),
                };
                for f in [&files.ca, &files.cert, &files.key] {
                    if !f.is_file() {
                        return Err(format!(
                            "docker host {name}: TLS file {} does not exist",
                            f.display()
                        ));
                    }
                }
                Some(files)
            }
            _ if !tcp => {
                return Err(format!(
                    "docker host {name}: TLS files need a tcp:// endpoint"
                ));
            }
            _ => {
                return Err(format!(
                    "docker host {name}: TLS needs all three of ca=, cert= and key="
                ));
            }
        };
        let tcp_host = endpoint
            .split_once("://")
            .filter(|_| tcp)
            .and_then(|(_, a)| a.rsplit_once(':').map(|(h, _)| h.to_string()));
        let address = params
            .get("address")
            .cloned()
            .or(tcp_host)
            .unwrap_or_else(|| "127.0.0.1".into());
        Ok(HostSpec {
            name: name.to_string(),
            endpoint: (!endpoint.is_empty()).then(|| endpoint.to_string()),
            tls,
            address,
        })
    }

    /// Parses every `--docker-host`; names must be unique. None given: `local` alone.
    pub fn parse_all(items: &[String]) -> Result<Vec<HostSpec>, String> {
        let mut out: Vec<HostSpec> = Vec::new();
        for item in items.iter().filter(|i| !i.trim().is_empty()) {
            let spec = HostSpec::parse(item)?;
            if out.iter().any(|h| h.name == spec.name) {
                return Err(format!(
                    "docker host {:?} is given twice (name each engine: NAME=ENDPOINT)",
                    spec.name
                ));
            }
            out.push(spec);
        }
        if out.is_empty() {
            out.push(HostSpec::local());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_endpoints_and_addresses() {
        let h = HostSpec::parse("b=unix:///run/qs-b.sock?address=10.99.0.2").unwrap();
        assert_eq!(h.name, "b");
        assert_eq!(h.endpoint.as_deref(), Some("unix:///run/qs-b.sock"));
        assert_eq!(h.address, "10.99.0.2");
        let t = HostSpec::parse("edge=tcp://10.0.0.5:2375").unwrap();
        assert_eq!(t.address, "10.0.0.5");
        let bare = HostSpec::parse("unix:///var/run/docker.sock").unwrap();
        assert_eq!(bare.name, "local");
        assert_eq!(bare.address, "127.0.0.1");
    }

    #[test]
    fn refuses_what_cannot_work() {
        for bad in [
            "b=ssh://user@h",
            "b=ftp://h",
            "b=unix:///s?ca=/x",
            "b=tcp://h:1?ca=/nonexistent&cert=/n&key=/n",
            "b=tcp://h:1?ca=/x",
            "b=unix:///s?colour=red",
            "bad name=unix:///s",
        ] {
            assert!(HostSpec::parse(bad).is_err(), "{bad} was accepted");
        }
        let twice = ["a=unix:///x".to_string(), "a=unix:///y".to_string()];
        assert!(HostSpec::parse_all(&twice).unwrap_err().contains("twice"));
        assert_eq!(HostSpec::parse_all(&[]).unwrap(), vec![HostSpec::local()]);
    }
}
