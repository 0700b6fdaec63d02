//! `DEPENDS_ON`: comma-separated base URLs of the services this one calls; each is
//! named by its host (`http://payment-service:8001` → payment-service) or a `name=` prefix.

use super::{ConfigError, MAX_DEPENDENCIES, invalid, is_name_char};

/// One entry of `DEPENDS_ON`: a base URL and the name it is known by (the URL's host,
/// or an explicit `name=` prefix for runs outside Docker's DNS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyConfig {
    pub name: String,
    pub url: String,
}

/// Parses `DEPENDS_ON`: comma-separated `http://host:port` base URLs, each optionally
/// prefixed `name=` to give the dependency a name other than its host.
pub fn parse_depends_on(raw: &str) -> Result<Vec<DependencyConfig>, ConfigError> {
    let mut deps: Vec<DependencyConfig> = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (explicit_name, url) = match entry.split_once('=') {
            Some((name, url)) => (Some(name.trim()), url.trim()),
            None => (None, entry),
        };
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .ok_or_else(|| {
                invalid(
                    "DEPENDS_ON",
                    entry,
                    "each entry must be a base URL starting with http:// (e.g. http://payment-service:8001)",
                )
            })?;
        let authority = rest.split('/').next().unwrap_or_default();
        let host = match authority.rsplit_once(':') {
            Some((host, port)) => {
                if port.parse::<u16>().is_err() {
                    return Err(invalid("DEPENDS_ON", entry, "the port is not a number"));
                }
                host
            }
            None => authority,
        };
        if host.is_empty() || !host.chars().all(is_name_char) {
            return Err(invalid(
                "DEPENDS_ON",
                entry,
                "the URL has no valid host name",
            ));
        }
        let name = explicit_name.unwrap_or(host);
        if name.is_empty() || name.len() > 63 || !name.chars().all(is_name_char) {
            return Err(invalid(
                "DEPENDS_ON",
                entry,
                "the dependency name must be 1-63 letters, digits, '-', '_' or '.'",
            ));
        }
        if deps.iter().any(|d| d.name == name) {
            return Err(invalid(
                "DEPENDS_ON",
                entry,
                format!("dependency {name} is listed twice"),
            ));
        }
        deps.push(DependencyConfig {
            name: name.to_owned(),
            url: url.trim_end_matches('/').to_owned(),
        });
    }
    if deps.len() > MAX_DEPENDENCIES {
        return Err(invalid(
            "DEPENDS_ON",
            raw,
            format!("at most {MAX_DEPENDENCIES} dependencies"),
        ));
    }
    Ok(deps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depends_on_names_are_hosts() {
        let deps = parse_depends_on(
            "http://payment-service:8001, http://inventory-service:8004/ ,auth=http://127.0.0.1:9",
        )
        .unwrap();
        let names: Vec<_> = deps.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["payment-service", "inventory-service", "auth"]);
        assert_eq!(deps[1].url, "http://inventory-service:8004");
        assert_eq!(deps[2].url, "http://127.0.0.1:9");
    }
}
