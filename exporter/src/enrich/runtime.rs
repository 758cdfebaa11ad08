//! What a container's runtime says of it (name, image), asked over the
//! runtime's API socket by a task of its own: the reader never waits on a
//! socket. The reader asks once per container and attaches the answer to
//! the container's records from the moment it arrives; the records before
//! that carry `container.id` alone.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::mpsc;

use crate::event::ContainerMeta;

/// The kinds of runtime sysotel asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeKind {
    /// Docker Engine's API (also Podman's Docker-compatible service).
    Docker,
}

/// One runtime's API socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeSocket {
    pub kind: RuntimeKind,
    pub path: PathBuf,
}

/// The sockets asked when none is configured, those that exist at start-up
/// (and later: a runtime that starts after sysotel is found at its socket).
pub const DEFAULT_SOCKETS: &[(RuntimeKind, &str)] = &[
    (RuntimeKind::Docker, "/var/run/docker.sock"),
    (RuntimeKind::Docker, "/run/podman/podman.sock"),
];

impl RuntimeSocket {
    /// `docker=PATH`.
    pub fn parse(s: &str) -> Result<RuntimeSocket, String> {
        let (kind, path) = s.split_once('=').ok_or_else(|| {
            format!("`{s}`: expected KIND=SOCKET, e.g. docker=/var/run/docker.sock")
        })?;
        let kind = match kind {
            "docker" => RuntimeKind::Docker,
            other => {
                return Err(format!(
                    "`{s}`: unknown runtime kind `{other}` (known: docker, which also serves Podman's Docker-compatible socket)"
                ));
            }
        };
        if path.is_empty() {
            return Err(format!("`{s}`: the socket path is empty"));
        }
        Ok(RuntimeSocket {
            kind,
            path: path.into(),
        })
    }

    /// The sockets to ask: `configured`, or the defaults; `none` alone asks
    /// none.
    pub fn from_terms(configured: &[String]) -> Result<Vec<RuntimeSocket>, String> {
        if configured.iter().any(|t| t == "none") {
            if configured.len() > 1 {
                return Err("`none` asks no runtime and cannot be combined with others".into());
            }
            return Ok(Vec::new());
        }
        if configured.is_empty() {
            return Ok(DEFAULT_SOCKETS
                .iter()
                .map(|(kind, path)| RuntimeSocket {
                    kind: *kind,
                    path: path.into(),
                })
                .collect());
        }
        configured.iter().map(|t| RuntimeSocket::parse(t)).collect()
    }
}

/// How long a container that no runtime knew, or that could not be asked, is
/// left before it is asked again.
const RETRY_AFTER: Duration = Duration::from_secs(5);
/// Containers remembered by the reader; past this it starts over.
const CONTAINERS_MAX: usize = 16_384;
/// Questions waiting for the task; past this, new ones wait for a later record.
const ASKS_MAX: usize = 1_024;
/// One question's time limit.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// The reader's side: answers from a map of its own, never a wait.
pub struct Metadata {
    known: HashMap<Arc<str>, Known>,
    asks: Option<mpsc::Sender<Arc<str>>>,
    answers: mpsc::UnboundedReceiver<(Arc<str>, Option<Arc<ContainerMeta>>)>,
    /// The last container found, by its id's allocation (the container
    /// resolver hands out one `Arc` per container): a run of records comes
    /// from one container, and a found answer never changes.
    last: Option<(Arc<str>, Arc<ContainerMeta>)>,
}

enum Known {
    Found(Arc<ContainerMeta>),
    /// Asked at this moment, not answered (yet), or not known to any runtime.
    Asked(Instant),
}

impl Metadata {
    /// Starts the task that asks `sockets` (within a Tokio runtime).
    pub fn start(sockets: Vec<RuntimeSocket>) -> Metadata {
        let (answer_tx, answers) = mpsc::unbounded_channel();
        if sockets.is_empty() {
            return Metadata::with(None, answers);
        }
        let (asks, ask_rx) = mpsc::channel(ASKS_MAX);
        tokio::spawn(ask_runtimes(sockets, ask_rx, answer_tx));
        Metadata::with(Some(asks), answers)
    }

    fn with(
        asks: Option<mpsc::Sender<Arc<str>>>,
        answers: mpsc::UnboundedReceiver<(Arc<str>, Option<Arc<ContainerMeta>>)>,
    ) -> Metadata {
        Metadata {
            known: HashMap::new(),
            asks,
            answers,
            last: None,
        }
    }

    /// Takes the answers that arrived since the last call.
    pub fn collect(&mut self) {
        while let Ok((id, meta)) = self.answers.try_recv() {
            if let Some(meta) = meta {
                self.known.insert(id, Known::Found(meta));
            }
        }
    }

    /// What is known of container `id` now; asks for it when it is new (or
    /// its last question went unanswered a while ago).
    pub fn get(&mut self, id: &Arc<str>) -> Option<Arc<ContainerMeta>> {
        if let Some((last, meta)) = &self.last
            && Arc::ptr_eq(last, id)
        {
            return Some(meta.clone());
        }
        match self.known.get(id) {
            Some(Known::Found(meta)) => {
                self.last = Some((id.clone(), meta.clone()));
                return Some(meta.clone());
            }
            Some(Known::Asked(at)) if at.elapsed() < RETRY_AFTER => return None,
            _ => {}
        }
        let asks = self.asks.as_ref()?;
        if self.known.len() >= CONTAINERS_MAX {
            self.known.clear();
            self.last = None;
        }
        // A full queue: asked again at a later record.
        if asks.try_send(id.clone()).is_ok() {
            self.known.insert(id.clone(), Known::Asked(Instant::now()));
        }
        None
    }
}

/// What asking one runtime gave.
enum Answer {
    Found(ContainerMeta),
    /// The runtime answered and does not know the container.
    Unknown,
    /// The runtime could not be asked (absent, refused, timed out).
    Failed(String),
}

/// One runtime, with what was said about it (each state change once).
struct Runtime {
    socket: RuntimeSocket,
    client: Option<bollard::Docker>,
    /// The last failure reported, so a runtime that stays away is reported
    /// once, and its return too.
    reported: Option<String>,
}

impl Runtime {
    async fn ask(&mut self, id: &str) -> Answer {
        if self.client.is_none() {
            match connect(&self.socket).await {
                Ok(c) => self.client = Some(c),
                Err(e) => return Answer::Failed(e),
            }
        }
        let Some(client) = &self.client else {
            return Answer::Failed("not connected".into());
        };
        let asked = tokio::time::timeout(ASK_TIMEOUT, client.inspect_container(id, None));
        match asked.await {
            Ok(Ok(c)) => Answer::Found(docker_meta(c, runtime_name(&self.socket))),
            Ok(Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            })) => Answer::Unknown,
            Ok(Err(e)) => {
                // Reconnect next time: the daemon may have restarted.
                self.client = None;
                Answer::Failed(e.to_string())
            }
            Err(_) => Answer::Failed(format!("no answer within {}s", ASK_TIMEOUT.as_secs())),
        }
    }

    /// Says what changed: a runtime that fails (once per kind of failure)
    /// or answers again after failing.
    fn report(&mut self, failure: Option<&str>) {
        let path = self.socket.path.display();
        match (failure, &self.reported) {
            (Some(f), Some(r)) if f == r => {}
            (Some(f), _) => {
                let absent = !self.socket.path.exists();
                if absent {
                    crate::info!(
                        "sysotel: no container runtime at {path}; its containers carry their id only"
                    );
                } else if f.contains("ermission denied") {
                    crate::warn!(
                        "sysotel: the container runtime at {path} refused: {f}; its containers carry their id only"
                    );
                } else {
                    crate::warn!(
                        "sysotel: the container runtime at {path} could not be asked: {f}"
                    );
                }
                self.reported = Some(f.to_string());
            }
            (None, Some(_)) => {
                crate::info!("sysotel: the container runtime at {path} answers again");
                self.reported = None;
            }
            (None, None) => {}
        }
    }
}

fn runtime_name(socket: &RuntimeSocket) -> &'static str {
    match socket.kind {
        RuntimeKind::Docker if socket.path.to_string_lossy().contains("podman") => "podman",
        RuntimeKind::Docker => "docker",
    }
}

async fn connect(socket: &RuntimeSocket) -> Result<bollard::Docker, String> {
    if !socket.path.exists() {
        return Err("no such socket".into());
    }
    let path = socket.path.to_string_lossy();
    let client = bollard::Docker::connect_with_unix(
        &path,
        ASK_TIMEOUT.as_secs(),
        bollard::API_DEFAULT_VERSION,
    )
    .map_err(|e| e.to_string())?;
    // The daemon may speak an older API than the client's default.
    tokio::time::timeout(ASK_TIMEOUT, client.negotiate_version())
        .await
        .map_err(|_| format!("no answer within {}s", ASK_TIMEOUT.as_secs()))?
        .map_err(|e| e.to_string())
}

/// A container as Docker's inspect describes it.
fn docker_meta(
    c: bollard::models::ContainerInspectResponse,
    runtime: &'static str,
) -> ContainerMeta {
    let reference = c.config.as_ref().and_then(|cfg| cfg.image.clone());
    let (image_name, image_tags) = match reference.as_deref() {
        // A container created from an image id names no image.
        Some(r) if !r.starts_with("sha256:") => {
            let (name, tag) = ContainerMeta::split_image_ref(r);
            (
                Some(name.to_string()),
                tag.map(str::to_string).into_iter().collect(),
            )
        }
        _ => (None, Vec::new()),
    };
    ContainerMeta {
        name: c
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        image_name,
        image_tags,
        image_id: c.image,
        runtime,
    }
}

/// The task: answers each question from the first runtime that knows the
/// container.
async fn ask_runtimes(
    sockets: Vec<RuntimeSocket>,
    mut asks: mpsc::Receiver<Arc<str>>,
    answers: mpsc::UnboundedSender<(Arc<str>, Option<Arc<ContainerMeta>>)>,
) {
    let mut runtimes: Vec<Runtime> = sockets
        .into_iter()
        .map(|socket| Runtime {
            socket,
            client: None,
            reported: None,
        })
        .collect();
    // Connected before the first question, so that it waits for no
    // version negotiation; a runtime absent now is said once, here.
    for rt in &mut runtimes {
        match connect(&rt.socket).await {
            Ok(c) => rt.client = Some(c),
            Err(e) => rt.report(Some(&e)),
        }
    }
    while let Some(id) = asks.recv().await {
        let mut found = None;
        for rt in &mut runtimes {
            match rt.ask(&id).await {
                Answer::Found(meta) => {
                    rt.report(None);
                    found = Some(Arc::new(meta));
                    break;
                }
                Answer::Unknown => rt.report(None),
                Answer::Failed(e) => rt.report(Some(&e)),
            }
        }
        if answers.send((id, found)).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_into_name_and_tag() {
        for (r, name, tag) in [
            ("busybox", "busybox", None),
            ("busybox:1.36", "busybox", Some("1.36")),
            ("sysotel-test/busybox:1", "sysotel-test/busybox", Some("1")),
            ("registry:5000/org/app", "registry:5000/org/app", None),
            (
                "registry:5000/org/app:v2",
                "registry:5000/org/app",
                Some("v2"),
            ),
            ("app:v2@sha256:abcd", "app", Some("v2")),
            ("app@sha256:abcd", "app", None),
        ] {
            assert_eq!(ContainerMeta::split_image_ref(r), (name, tag), "{r}");
        }
    }

    #[test]
    fn runtime_terms() {
        let d = RuntimeSocket::from_terms(&[]).expect("defaults");
        assert_eq!(d.len(), DEFAULT_SOCKETS.len());
        assert!(
            RuntimeSocket::from_terms(&["none".into()])
                .expect("none")
                .is_empty()
        );
        assert_eq!(
            RuntimeSocket::from_terms(&["docker=/x.sock".into()]).expect("one"),
            vec![RuntimeSocket {
                kind: RuntimeKind::Docker,
                path: "/x.sock".into()
            }]
        );
        for bad in ["docker", "rkt=/x", "docker="] {
            assert!(RuntimeSocket::parse(bad).is_err(), "{bad}");
        }
        assert!(RuntimeSocket::from_terms(&["none".into(), "docker=/x".into()]).is_err());
    }

    #[test]
    fn podman_is_named_by_its_socket() {
        let s = |p: &str| RuntimeSocket {
            kind: RuntimeKind::Docker,
            path: p.into(),
        };
        assert_eq!(runtime_name(&s("/var/run/docker.sock")), "docker");
        assert_eq!(runtime_name(&s("/run/podman/podman.sock")), "podman");
    }
}
