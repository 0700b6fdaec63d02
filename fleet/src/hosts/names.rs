//! Service names across hosts: bare where a name runs on one host, `host/name` where it
//! runs on several; which host a bare name (or container name, or id prefix) means.

use std::collections::{BTreeMap, BTreeSet};

use crate::ContainerInfo;

/// What a bare name refers to in a listing of every host.
#[derive(Debug, PartialEq)]
pub(super) enum Resolved {
    /// It runs on this host only.
    One(String),
    /// It runs on several: the qualified names to choose from.
    Many(Vec<String>),
    None,
}

/// The bare service names listed on more than one host.
pub(super) fn shared(all: &[ContainerInfo]) -> BTreeSet<String> {
    let mut hosts: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for c in all {
        hosts.entry(bare(&c.name)).or_default().insert(&c.host);
    }
    hosts
        .into_iter()
        .filter(|(_, h)| h.len() > 1)
        .map(|(n, _)| n.to_string())
        .collect()
}

fn bare(name: &str) -> &str {
    name.rsplit_once('/').map_or(name, |(_, n)| n)
}

/// The record with its name qualified when the bare name runs on several hosts.
pub(super) fn qualify(mut c: ContainerInfo, shared: &BTreeSet<String>) -> ContainerInfo {
    let name = bare(&c.name).to_string();
    c.name = if shared.contains(&name) {
        format!("{}/{name}", c.host)
    } else {
        name
    };
    c
}

/// Which host `name` (service, container name or id prefix, not qualified) is on.
pub(super) fn find(list: &[ContainerInfo], name: &str) -> Resolved {
    let by_id = name.len() >= 4 && name.chars().all(|c| c.is_ascii_hexdigit());
    let hits: Vec<&ContainerInfo> = list
        .iter()
        .filter(|c| {
            bare(&c.name) == name || c.container_name == name || (by_id && c.id.starts_with(name))
        })
        .collect();
    let hosts: BTreeSet<&str> = hits.iter().map(|c| c.host.as_str()).collect();
    match hosts.len() {
        0 => Resolved::None,
        1 => Resolved::One(hits[0].host.clone()),
        _ => Resolved::Many(
            hits.iter()
                .map(|c| format!("{}/{}", c.host, bare(&c.name)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(host: &str, name: &str) -> ContainerInfo {
        ContainerInfo {
            name: name.into(),
            container_name: format!("qs-{name}"),
            id: "abcdef123456".into(),
            host: host.into(),
            address: "127.0.0.1".into(),
            unreachable: None,
            state: "running".into(),
            image: "img".into(),
            role: "service".into(),
            labels: Default::default(),
            host_port: None,
            container_port: None,
        }
    }

    #[test]
    fn a_name_on_two_hosts_is_qualified_and_ambiguous() {
        let all = vec![on("local", "api"), on("b", "api"), on("b", "cache")];
        let s = shared(&all);
        assert_eq!(s, BTreeSet::from(["api".to_string()]));
        let named: Vec<String> = all.into_iter().map(|c| qualify(c, &s).name).collect();
        assert_eq!(named, ["local/api", "b/api", "cache"]);
        let list = vec![on("local", "api"), on("b", "api"), on("b", "cache")];
        assert_eq!(find(&list, "cache"), Resolved::One("b".into()));
        assert_eq!(
            find(&list, "api"),
            Resolved::Many(vec!["local/api".into(), "b/api".into()])
        );
        assert_eq!(find(&list, "nope"), Resolved::None);
    }
}
