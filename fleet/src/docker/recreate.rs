//! Recreating a container with a new SERVICE_VERSION: stop the old one, create its twin
//! with the same config, ports, limits and networks, swap the names; on any failure put
//! the old one back and start it again.

use std::collections::HashMap;

use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, EndpointSettings, NetworkConnectRequest,
    NetworkingConfig,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder, RenameContainerOptions,
    StopContainerOptionsBuilder,
};

use crate::Recreate;

/// Stops the old container, creates its twin with the change, and swaps them; on any
/// failure puts the old one back. Returns the new container's id.
pub(super) async fn recreate(
    d: Docker,
    old: ContainerInspectResponse,
    change: Recreate,
) -> Result<String, DockerError> {
    let old_id = old.id.clone().unwrap_or_default();
    let short: String = old_id.chars().take(12).collect();
    let name = old
        .name
        .clone()
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_string();
    let c = old.config.clone().unwrap_or_default();
    let hc = old.host_config.clone().unwrap_or_default();
    let mut eps: Vec<(String, EndpointSettings)> = old
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|(net, ep)| {
            let aliases: Vec<String> = ep
                .aliases
                .unwrap_or_default()
                .into_iter()
                .filter(|a| *a != short)
                .collect();
            (
                net,
                EndpointSettings {
                    aliases: (!aliases.is_empty()).then_some(aliases),
                    ipam_config: ep.ipam_config,
                    links: ep.links,
                    driver_opts: ep.driver_opts,
                    ..Default::default()
                },
            )
        })
        .collect();
    let primary = hc.network_mode.clone().unwrap_or_default();
    eps.sort_by_key(|(n, _)| (*n != primary, n.clone()));
    let mut env: Vec<String> = c
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| !e.starts_with("SERVICE_VERSION="))
        .collect();
    env.push(format!("SERVICE_VERSION={}", change.version));
    let mut labels = c.labels.clone().unwrap_or_default();
    labels.extend(change.labels.clone());
    let body = ContainerCreateBody {
        hostname: None,
        domainname: c.domainname,
        user: c.user,
        attach_stdin: c.attach_stdin,
        attach_stdout: c.attach_stdout,
        attach_stderr: c.attach_stderr,
        exposed_ports: c.exposed_ports,
        tty: c.tty,
        open_stdin: c.open_stdin,
        stdin_once: c.stdin_once,
        env: Some(env),
        cmd: c.cmd,
        healthcheck: c.healthcheck,
        args_escaped: c.args_escaped,
        image: c.image,
        volumes: c.volumes,
        working_dir: c.working_dir,
        entrypoint: c.entrypoint,
        network_disabled: c.network_disabled,
        on_build: c.on_build,
        labels: Some(labels),
        stop_signal: c.stop_signal,
        stop_timeout: c.stop_timeout,
        shell: c.shell,
        host_config: Some(hc),
        // API < 1.44 takes one endpoint at create; the others are connected before start.
        networking_config: eps.first().cloned().map(|(n, ep)| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(n, ep)])),
        }),
    };
    let was_running = old.state.as_ref().and_then(|s| s.running).unwrap_or(false);
    d.stop_container(
        &old_id,
        Some(StopContainerOptionsBuilder::new().t(10).build()),
    )
    .await?;
    let tmp = format!("{name}-replaced-{short}");
    d.rename_container(&old_id, RenameContainerOptions { name: tmp.clone() })
        .await?;
    let attempt: Result<String, DockerError> = async {
        let new = d
            .create_container(
                Some(CreateContainerOptionsBuilder::new().name(&name).build()),
                body,
            )
            .await?;
        for (net, ep) in eps.into_iter().skip(1) {
            d.connect_network(
                &net,
                NetworkConnectRequest {
                    container: new.id.clone(),
                    endpoint_config: Some(ep),
                },
            )
            .await?;
        }
        d.start_container(&new.id, None).await?;
        Ok(new.id)
    }
    .await;
    match attempt {
        Ok(id) => {
            d.remove_container(
                &old_id,
                Some(RemoveContainerOptionsBuilder::new().force(true).build()),
            )
            .await?;
            Ok(id)
        }
        Err(e) => {
            let _ = d
                .remove_container(
                    &name,
                    Some(RemoveContainerOptionsBuilder::new().force(true).build()),
                )
                .await;
            d.rename_container(&old_id, RenameContainerOptions { name: name.clone() })
                .await?;
            if was_running {
                d.start_container(&old_id, None).await?;
            }
            Err(e)
        }
    }
}
