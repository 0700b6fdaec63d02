//! Peers measured on the same machine in the same run, interleaved with us: the Python
//! Docker MCP servers (`docker-mcp`, `mcp-server-docker`, in venvs on Python 3.12) and the
//! Go servers `mcp-grafana` and `kubernetes-mcp-server`, as `scripts/setup-peers.sh`
//! installs them from the registries. Each round starts every server once (spawn →
//! initialize → `tools/list` reply, the same raw stdio client for all), so a noisy moment
//! hits everyone alike; then the Docker peers get a read call and a restart when offered.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use tokio::process::Command;

use super::procs::{Percentiles, StdioServer, percentiles};

/// One server's figures (or why there are none).
#[derive(Debug, Clone, Serialize)]
pub struct Peer {
    pub name: String,
    pub language: &'static str,
    pub cold_start_to_tools_list: Option<Percentiles>,
    /// Its median cold start over ours (from the same rounds).
    pub times_ours: Option<f64>,
    pub tools: usize,
    /// Bytes of the `tools/list` result, and per tool.
    pub list_bytes: usize,
    pub bytes_per_tool: Option<usize>,
    pub read_tool: Option<String>,
    pub read_call: Option<Percentiles>,
    pub restart_tool: Option<String>,
    pub restart_ms: Option<f64>,
    pub note: Option<String>,
}

/// How to start one peer.
struct Spec {
    name: &'static str,
    language: &'static str,
    exe: PathBuf,
    env: Vec<(&'static str, String)>,
    /// A Docker server: worth a read call and a restart.
    docker: bool,
}

/// Where `scripts/setup-peers.sh` put the peers: `$QS_PEERS_DIR`, else `$QS_DATA_DIR/peers`.
pub fn peers_dir() -> PathBuf {
    std::env::var_os("QS_PEERS_DIR")
        .map(PathBuf::from)
        .or_else(|| quantumstate_store::data_dir().ok().map(|d| d.join("peers")))
        .unwrap_or_else(|| PathBuf::from("peers"))
}

fn specs(dir: &Path) -> Vec<Spec> {
    vec![
        Spec {
            name: "docker-mcp 0.2.0",
            language: "Python",
            exe: dir.join("venv-docker-mcp/bin/docker-mcp"),
            env: vec![],
            docker: true,
        },
        Spec {
            name: "mcp-server-docker 0.3.0",
            language: "Python",
            exe: dir.join("venv-mcp-server-docker/bin/mcp-server-docker"),
            env: vec![],
            docker: true,
        },
        Spec {
            name: "mcp-grafana 2.1.1",
            language: "Go",
            exe: dir.join("mcp-grafana"),
            // Never contacted for tools/list: a loopback port nothing listens on.
            env: vec![("GRAFANA_URL", "http://127.0.0.1:9".into())],
            docker: false,
        },
        Spec {
            name: "kubernetes-mcp-server 0.0.67",
            language: "Go",
            exe: dir.join("kubernetes-mcp-server"),
            env: vec![("KUBECONFIG", dir.join("kubeconfig").display().to_string())],
            docker: false,
        },
    ]
}

impl Spec {
    fn command(&self) -> Command {
        let mut c = Command::new(&self.exe);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    fn peer(&self) -> Peer {
        Peer::named(self.name, self.language)
    }
}

impl Peer {
    fn named(name: &str, language: &'static str) -> Peer {
        Peer {
            name: name.to_string(),
            language,
            cold_start_to_tools_list: None,
            times_ours: None,
            tools: 0,
            list_bytes: 0,
            bytes_per_tool: None,
            read_tool: None,
            read_call: None,
            restart_tool: None,
            restart_ms: None,
            note: None,
        }
    }
}

/// Spawn → initialize → `tools/list` reply: the time, the reply, and the running server.
async fn start(cmd: Command) -> Result<(Duration, Value, StdioServer), String> {
    let t = Instant::now();
    let mut s = StdioServer::spawn(cmd).map_err(|e| format!("cannot start: {e}"))?;
    s.initialize(Duration::from_secs(60)).await?;
    let list = s
        .request(2, "tools/list", json!({}), Duration::from_secs(60))
        .await?;
    Ok((t.elapsed(), list, s))
}

/// One server's samples so far and its last `tools/list` reply.
struct Track {
    peer: Peer,
    cmd: Box<dyn Fn() -> Command + Send>,
    samples: Vec<Duration>,
    list: Value,
    live: bool,
}

/// Measures us (`ours` makes our command) and every peer in `runs` interleaved rounds after
/// one untimed warm-up each; the first track in the result is ours.
pub async fn measure_all(
    ours: Box<dyn Fn() -> Command + Send>,
    runs: usize,
    restart_target: Option<&str>,
) -> Vec<Peer> {
    let dir = peers_dir();
    let mut tracks = vec![Track {
        peer: Peer::named("QuantumState (this build)", "Rust"),
        cmd: ours,
        samples: Vec::new(),
        list: Value::Null,
        live: true,
    }];
    let mut docker = vec![false];
    for spec in specs(&dir) {
        let mut peer = spec.peer();
        let live = spec.exe.is_file();
        if !live {
            peer.note = Some(format!(
                "not installed: {} is missing (scripts/setup-peers.sh installs it)",
                spec.exe.display()
            ));
        }
        docker.push(spec.docker);
        let cmd: Box<dyn Fn() -> Command + Send> = Box::new(move || spec.command());
        tracks.push(Track {
            peer,
            cmd,
            samples: Vec::new(),
            list: Value::Null,
            live,
        });
    }
    for round in 0..=runs {
        for t in tracks.iter_mut().filter(|t| t.live) {
            match start((t.cmd)()).await {
                Ok((took, list, s)) => {
                    s.stop().await;
                    // Round 0 warms the page cache (and Python's bytecode); not timed.
                    if round > 0 {
                        t.samples.push(took);
                    }
                    t.list = list;
                }
                Err(e) => {
                    t.peer.note = Some(format!("could not start: {e}"));
                    t.live = false;
                }
            }
        }
    }
    for t in &mut tracks {
        if !t.samples.is_empty() {
            t.peer.cold_start_to_tools_list = Some(percentiles(&t.samples));
        }
        let tools = t.list["result"]["tools"].as_array().map_or(0, Vec::len);
        t.peer.tools = tools;
        t.peer.list_bytes = serde_json::to_string(&t.list["result"]).map_or(0, |s| s.len());
        t.peer.bytes_per_tool = (tools > 0).then(|| t.peer.list_bytes / tools);
    }
    let ours_p50 = tracks[0].peer.cold_start_to_tools_list.map(|p| p.p50_ms);
    for t in &mut tracks {
        if let (Some(o), Some(p)) = (ours_p50, t.peer.cold_start_to_tools_list) {
            t.peer.times_ours = Some((p.p50_ms / o * 10.0).round() / 10.0);
        }
    }
    for (t, is_docker) in tracks.iter_mut().zip(docker) {
        if is_docker && t.live {
            exercise(t, restart_target).await;
        }
    }
    tracks.into_iter().map(|t| t.peer).collect()
}

fn find_tool(list: &Value, want: &[&str]) -> Option<String> {
    let names: Vec<String> = list["result"]["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect();
    names.into_iter().find(|n| {
        let l = n.to_lowercase().replace('-', "_");
        want.iter().all(|w| l.contains(w))
    })
}

/// A Docker peer's read call (20 runs) and restart (one, of `restart_target`).
async fn exercise(t: &mut Track, restart_target: Option<&str>) {
    let mut s = match start((t.cmd)()).await {
        Ok((_, _, s)) => s,
        Err(e) => {
            t.peer.note = Some(format!("could not start: {e}"));
            return;
        }
    };
    let peer = &mut t.peer;
    peer.read_tool = find_tool(&t.list, &["list", "container"]);
    if let Some(tool) = peer.read_tool.clone() {
        let mut samples = Vec::new();
        for i in 0..20 {
            let started = Instant::now();
            let call = json!({"name": tool, "arguments": {}});
            match s
                .request(100 + i, "tools/call", call, Duration::from_secs(30))
                .await
            {
                Ok(r) if r.get("error").is_none() => samples.push(started.elapsed()),
                Ok(r) => {
                    peer.note = Some(format!("{tool} failed: {}", r["error"]));
                    break;
                }
                Err(e) => {
                    peer.note = Some(e);
                    break;
                }
            }
        }
        if !samples.is_empty() {
            peer.read_call = Some(percentiles(&samples));
        }
    }
    peer.restart_tool =
        find_tool(&t.list, &["restart", "container"]).or_else(|| find_tool(&t.list, &["restart"]));
    match (&peer.restart_tool, restart_target) {
        (Some(tool), Some(target)) => {
            let started = Instant::now();
            let args = json!({"container_id": target, "container_name": target, "name": target, "id": target});
            let call = json!({"name": tool, "arguments": args});
            match s
                .request(500, "tools/call", call, Duration::from_secs(60))
                .await
            {
                Ok(r) if r.get("error").is_none() && r["result"]["isError"] != true => {
                    peer.restart_ms =
                        Some((started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0)
                }
                Ok(r) => peer.note = Some(format!("restart failed: {r}")),
                Err(e) => peer.note = Some(e),
            }
        }
        (None, _) => {
            peer.note
                .get_or_insert_with(|| "offers no restart tool".into());
        }
        _ => {}
    }
    s.stop().await;
}
