//! What a container's runtime says of it (name, image, and for a
//! Kubernetes pod's container the pod), asked over the runtime's API socket
//! by a task of its own: the reader never waits on a socket. The reader asks
//! once per container and attaches the answer to the container's records
//! from the moment it arrives; the records before that carry `container.id`
//! alone.
//!
//! Two APIs are spoken: Docker Engine's (Docker, Podman's compatible
//! service) and Kubernetes' CRI (`runtime.v1.RuntimeService`: containerd's
//! CRI plugin, CRI-O).

use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::mpsc;

use crate::{
    enrich::containers::walk_cgroups,
    event::{ContainerMeta, Pod},
    policy::scope::{WorkloadTerm, workload_verdict},
};

/// The kinds of runtime sysotel asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeKind {
    /// Docker Engine's API (also Podman's Docker-compatible service).
    Docker,
    /// Kubernetes' Container Runtime Interface (containerd, CRI-O).
    Cri,
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
    (RuntimeKind::Cri, "/run/containerd/containerd.sock"),
    (RuntimeKind::Cri, "/var/run/crio/crio.sock"),
];

impl RuntimeSocket {
    /// `docker=PATH` or `cri=PATH`.
    pub fn parse(s: &str) -> Result<RuntimeSocket, String> {
        let (kind, path) = s.split_once('=').ok_or_else(|| {
            format!("`{s}`: expected KIND=SOCKET, e.g. docker=/var/run/docker.sock")
        })?;
        let kind = match kind {
            "docker" => RuntimeKind::Docker,
            "cri" => RuntimeKind::Cri,
            other => {
                return Err(format!(
                    "`{s}`: unknown runtime kind `{other}` (known: docker, which also serves Podman's Docker-compatible socket; cri, Kubernetes' runtime API of containerd and CRI-O)"
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

/// What the task tells the reader: a container's description (None: no
/// runtime knows it), and the cgroups it found the container in (the
/// workload scope's walks).
type Told = (Arc<str>, Option<Arc<ContainerMeta>>, Vec<u64>);

/// The reader's side: answers from a map of its own, never a wait.
pub struct Metadata {
    known: HashMap<Arc<str>, Known>,
    asks: Option<mpsc::Sender<Arc<str>>>,
    answers: mpsc::UnboundedReceiver<Told>,
    /// The last container found, by its id's allocation (the container
    /// resolver hands out one `Arc` per container): a run of records comes
    /// from one container, and a found answer never changes.
    last: Option<(Arc<str>, Arc<ContainerMeta>)>,
    /// Cgroups the task found containers in, for the reader's resolver.
    pub learned: Vec<(u64, Arc<str>)>,
}

enum Known {
    Found(Arc<ContainerMeta>),
    /// Asked at this moment, not answered (yet), or not known to any runtime.
    Asked(Instant),
}

impl Metadata {
    /// Starts the task that asks `sockets` (within a Tokio runtime), and
    /// keeps `workloads` current, if given.
    pub fn start(sockets: Vec<RuntimeSocket>, workloads: Option<Workloads>) -> Metadata {
        let (answer_tx, answers) = mpsc::unbounded_channel();
        if sockets.is_empty() {
            return Metadata::with(None, answers);
        }
        let (asks, ask_rx) = mpsc::channel(ASKS_MAX);
        tokio::spawn(ask_runtimes(sockets, ask_rx, answer_tx, workloads));
        Metadata::with(Some(asks), answers)
    }

    fn with(
        asks: Option<mpsc::Sender<Arc<str>>>,
        answers: mpsc::UnboundedReceiver<Told>,
    ) -> Metadata {
        Metadata {
            known: HashMap::new(),
            asks,
            answers,
            last: None,
            learned: Vec::new(),
        }
    }

    /// Takes the answers that arrived since the last call.
    pub fn collect(&mut self) {
        while let Ok((id, meta, cgroups)) = self.answers.try_recv() {
            self.learned
                .extend(cgroups.into_iter().map(|c| (c, id.clone())));
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
    client: Option<Client>,
    /// The last failure reported, so a runtime that stays away is reported
    /// once, and its return too.
    reported: Option<String>,
}

/// A connected runtime.
enum Client {
    Docker(bollard::Docker),
    Cri(Cri),
}

impl Runtime {
    async fn ask(&mut self, id: &str) -> Answer {
        if self.client.is_none() {
            match connect(&self.socket).await {
                Ok(c) => self.client = Some(c),
                Err(e) => return Answer::Failed(e),
            }
        }
        let answer = match &mut self.client {
            Some(Client::Docker(client)) => {
                ask_docker(client, id, runtime_name(&self.socket)).await
            }
            Some(Client::Cri(cri)) => cri.ask(id).await,
            None => Answer::Failed("not connected".into()),
        };
        if matches!(answer, Answer::Failed(_)) {
            // Reconnect next time: the daemon may have restarted.
            self.client = None;
        }
        answer
    }

    /// The ids of the containers running now; none from a runtime whose
    /// socket is absent or that serves no CRI (a containerd whose CRI plugin
    /// is off runs no Kubernetes containers).
    async fn list(&mut self) -> Result<Vec<String>, String> {
        if self.client.is_none() {
            match connect(&self.socket).await {
                Ok(c) => self.client = Some(c),
                Err(e) if e == NO_CRI || !self.socket.path.exists() => return Ok(Vec::new()),
                Err(e) => return Err(e),
            }
        }
        let listed = match &mut self.client {
            Some(Client::Docker(client)) => {
                match tokio::time::timeout(ASK_TIMEOUT, client.list_containers(None)).await {
                    Ok(Ok(list)) => Ok(list.into_iter().filter_map(|c| c.id).collect()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(timed_out()),
                }
            }
            Some(Client::Cri(cri)) => cri.list().await,
            None => Err("not connected".into()),
        };
        if listed.is_err() {
            self.client = None;
        }
        listed
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
                } else if f == NO_CRI {
                    crate::info!("sysotel: the container runtime at {path}: {f}");
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

/// `container.runtime.name` of a Docker API socket: Podman's compatible
/// service is told by its socket's path.
fn runtime_name(socket: &RuntimeSocket) -> &'static str {
    if socket.path.to_string_lossy().contains("podman") {
        "podman"
    } else {
        "docker"
    }
}

/// What a question that did not complete in time says.
fn timed_out() -> String {
    format!("no answer within {}s", ASK_TIMEOUT.as_secs())
}

async fn connect(socket: &RuntimeSocket) -> Result<Client, String> {
    if !socket.path.exists() {
        return Err("no such socket".into());
    }
    match socket.kind {
        RuntimeKind::Docker => connect_docker(socket).await.map(Client::Docker),
        RuntimeKind::Cri => Cri::connect(socket).await.map(Client::Cri),
    }
}

async fn connect_docker(socket: &RuntimeSocket) -> Result<bollard::Docker, String> {
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
        .map_err(|_| timed_out())?
        .map_err(|e| e.to_string())
}

async fn ask_docker(client: &bollard::Docker, id: &str, runtime: &'static str) -> Answer {
    match tokio::time::timeout(ASK_TIMEOUT, client.inspect_container(id, None)).await {
        Ok(Ok(c)) => Answer::Found(docker_meta(c, runtime)),
        Ok(Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        })) => Answer::Unknown,
        Ok(Err(e)) => Answer::Failed(e.to_string()),
        Err(_) => Answer::Failed(timed_out()),
    }
}

/// A container as Docker's inspect describes it.
fn docker_meta(
    c: bollard::models::ContainerInspectResponse,
    runtime: &'static str,
) -> ContainerMeta {
    let reference = c.config.as_ref().and_then(|cfg| cfg.image.as_deref());
    let (image_name, image_tags) = image_of(reference);
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
        pod: None,
    }
}

/// Image name and tags from an image reference; none for an image id
/// (a container created from `sha256:…` names no image).
fn image_of(reference: Option<&str>) -> (Option<String>, Vec<String>) {
    match reference {
        Some(r) if !r.is_empty() && !r.starts_with("sha256:") => {
            let (name, tag) = ContainerMeta::split_image_ref(r);
            (
                Some(name.to_string()),
                tag.map(str::to_string).into_iter().collect(),
            )
        }
        _ => (None, Vec::new()),
    }
}

/// What a socket that serves no CRI says (a containerd whose CRI plugin is
/// disabled, as Docker's own often is): said as information, not a warning.
const NO_CRI: &str = "it does not serve the CRI API (its CRI plugin is disabled)";

/// A CRI runtime (`runtime.v1.RuntimeService` over its unix socket).
struct Cri {
    client: k8s_cri::v1::runtime_service_client::RuntimeServiceClient<tonic::transport::Channel>,
    /// `container.runtime.name`, from the runtime's own Version answer.
    runtime: &'static str,
    /// Pods already described, by sandbox id.
    pods: HashMap<String, Pod>,
}

impl Cri {
    async fn connect(socket: &RuntimeSocket) -> Result<Cri, String> {
        use k8s_cri::v1::{VersionRequest, runtime_service_client::RuntimeServiceClient};
        let path = socket.path.clone();
        // The URI is required by the API and not used: every connection
        // goes to the socket.
        let endpoint = tonic::transport::Endpoint::from_static("http://localhost")
            .connect_timeout(ASK_TIMEOUT);
        let connector = tower::service_fn(move |_: tonic::transport::Uri| {
            let path = path.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(path).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        });
        let channel = tokio::time::timeout(ASK_TIMEOUT, endpoint.connect_with_connector(connector))
            .await
            .map_err(|_| timed_out())?
            .map_err(|e| describe_transport(&e))?;
        let mut client = RuntimeServiceClient::new(channel);
        let version = tokio::time::timeout(ASK_TIMEOUT, client.version(VersionRequest::default()))
            .await
            .map_err(|_| timed_out())?
            .map_err(|s| match s.code() {
                // containerd with its CRI plugin disabled (as Docker's own
                // containerd often is) serves no RuntimeService.
                tonic::Code::Unimplemented => NO_CRI.to_string(),
                _ => describe_status(&s),
            })?
            .into_inner();
        let runtime = match version.runtime_name.as_str() {
            "containerd" => "containerd",
            "cri-o" => "cri-o",
            _ => "cri",
        };
        Ok(Cri {
            client,
            runtime,
            pods: HashMap::new(),
        })
    }

    /// The running containers' ids.
    async fn list(&mut self) -> Result<Vec<String>, String> {
        use k8s_cri::v1::{
            ContainerFilter, ContainerState, ContainerStateValue, ListContainersRequest,
        };
        let running = ListContainersRequest {
            filter: Some(ContainerFilter {
                state: Some(ContainerStateValue {
                    state: ContainerState::ContainerRunning as i32,
                }),
                ..ContainerFilter::default()
            }),
        };
        match tokio::time::timeout(ASK_TIMEOUT, self.client.list_containers(running)).await {
            Ok(Ok(r)) => Ok(r
                .into_inner()
                .containers
                .into_iter()
                .map(|c| c.id)
                .collect()),
            Ok(Err(s)) => Err(describe_status(&s)),
            Err(_) => Err(timed_out()),
        }
    }

    /// The container's status, and its pod from the pod's sandbox.
    async fn ask(&mut self, id: &str) -> Answer {
        use k8s_cri::v1::{ContainerFilter, ContainerStatusRequest, ListContainersRequest};
        let status = ContainerStatusRequest {
            container_id: id.to_string(),
            verbose: false,
        };
        let status =
            match tokio::time::timeout(ASK_TIMEOUT, self.client.container_status(status)).await {
                Ok(Ok(r)) => r.into_inner().status.unwrap_or_default(),
                Ok(Err(s)) if is_not_found(&s) => return Answer::Unknown,
                Ok(Err(s)) => return Answer::Failed(describe_status(&s)),
                Err(_) => return Answer::Failed(timed_out()),
            };
        // The status does not name the sandbox; the container's listing does.
        let list = ListContainersRequest {
            filter: Some(ContainerFilter {
                id: id.to_string(),
                ..ContainerFilter::default()
            }),
        };
        let sandbox =
            match tokio::time::timeout(ASK_TIMEOUT, self.client.list_containers(list)).await {
                Ok(Ok(r)) => r
                    .into_inner()
                    .containers
                    .into_iter()
                    .find(|c| c.id == id)
                    .map(|c| c.pod_sandbox_id),
                Ok(Err(s)) => return Answer::Failed(describe_status(&s)),
                Err(_) => return Answer::Failed(timed_out()),
            };
        let container_name = status.metadata.map(|m| m.name).unwrap_or_default();
        let pod = match sandbox {
            Some(sandbox) => match self.pod(&sandbox).await {
                Ok(pod) => pod.map(|p| Pod {
                    container_name: container_name.clone(),
                    ..p
                }),
                Err(e) => return Answer::Failed(e),
            },
            None => None,
        };
        let reference = status.image.map(|i| i.image);
        let (image_name, image_tags) = image_of(reference.as_deref());
        let image_id = [status.image_id, status.image_ref]
            .into_iter()
            .find(|i| !i.is_empty());
        Answer::Found(ContainerMeta {
            name: container_name,
            image_name,
            image_tags,
            image_id,
            runtime: self.runtime,
            pod,
        })
    }

    /// The pod of sandbox `id` (asked once per sandbox); None for a sandbox
    /// the runtime no longer knows.
    async fn pod(&mut self, id: &str) -> Result<Option<Pod>, String> {
        use k8s_cri::v1::PodSandboxStatusRequest;
        if let Some(pod) = self.pods.get(id) {
            return Ok(Some(pod.clone()));
        }
        let request = PodSandboxStatusRequest {
            pod_sandbox_id: id.to_string(),
            verbose: false,
        };
        let status = match tokio::time::timeout(
            ASK_TIMEOUT,
            self.client.pod_sandbox_status(request),
        )
        .await
        {
            Ok(Ok(r)) => r.into_inner().status.unwrap_or_default(),
            Ok(Err(s)) if is_not_found(&s) => return Ok(None),
            Ok(Err(s)) => return Err(describe_status(&s)),
            Err(_) => return Err(timed_out()),
        };
        let Some(m) = status.metadata else {
            return Ok(None);
        };
        if self.pods.len() >= CONTAINERS_MAX {
            self.pods.clear();
        }
        let pod = Pod {
            name: m.name,
            uid: m.uid,
            namespace: m.namespace,
            container_name: String::new(),
        };
        self.pods.insert(id.to_string(), pod.clone());
        Ok(Some(pod))
    }
}

/// A CRI runtime's "no such container or sandbox" (containerd says NotFound;
/// some versions only say so in the message).
fn is_not_found(s: &tonic::Status) -> bool {
    s.code() == tonic::Code::NotFound || s.message().contains("not found")
}

fn describe_status(s: &tonic::Status) -> String {
    format!("{:?}: {}", s.code(), s.message())
}

/// A transport error with its causes (the first says only "transport error").
fn describe_transport(e: &tonic::transport::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The task: answers each question from the first runtime that knows the
/// container.
async fn ask_runtimes(
    sockets: Vec<RuntimeSocket>,
    mut asks: mpsc::Receiver<Arc<str>>,
    answers: mpsc::UnboundedSender<Told>,
    workloads: Option<Workloads>,
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
    let mut poll = tokio::time::interval(WORKLOAD_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut workloads = workloads;
    loop {
        tokio::select! {
            id = asks.recv() => {
                let Some(id) = id else { return };
                let found = describe(&mut runtimes, &id).await;
                if answers.send((id, found, Vec::new())).is_err() {
                    return;
                }
            }
            _ = poll.tick(), if workloads.is_some() => {
                if let Some(w) = &mut workloads {
                    w.sync(&mut runtimes, &answers).await;
                }
            }
        }
    }
}

/// Container `id` as the first runtime that knows it describes it.
async fn describe(runtimes: &mut [Runtime], id: &str) -> Option<Arc<ContainerMeta>> {
    for rt in runtimes {
        match rt.ask(id).await {
            Answer::Found(meta) => {
                rt.report(None);
                return Some(Arc::new(meta));
            }
            Answer::Unknown => rt.report(None),
            Answer::Failed(e) => rt.report(Some(&e)),
        }
    }
    None
}

/// How often the runtimes are asked which containers run, for the
/// workload scope: a container is admitted (or excluded) in the kernel
/// within this of its start.
pub const WORKLOAD_POLL: Duration = Duration::from_secs(1);

/// The kernel's map of workload cgroups (`ScopeKey::Workload` entries of
/// `SCOPE_IDS`).
pub trait ScopeMap: Send {
    fn set(&mut self, cgroup: u64, verdict: u8) -> Result<(), String>;
    fn remove(&mut self, cgroup: u64) -> Result<(), String>;
}

/// The workload scope terms, kept current in the kernel as containers start
/// and stop: each running container the runtimes list is described once,
/// its cgroups found once (a walk of the cgroup tree when new containers
/// appeared), and its cgroups' entries set from the terms' verdict.
pub struct Workloads {
    terms: Vec<WorkloadTerm>,
    map: Box<dyn ScopeMap>,
    cgroup_root: PathBuf,
    /// Running containers described: their description and cgroups.
    seen: HashMap<Arc<str>, (Arc<ContainerMeta>, Vec<u64>)>,
    /// What the map holds.
    entries: HashMap<u64, u8>,
    /// The last map failure reported.
    reported: Option<String>,
}

impl Workloads {
    pub fn new(terms: Vec<WorkloadTerm>, map: Box<dyn ScopeMap>, cgroup_root: PathBuf) -> Self {
        Workloads {
            terms,
            map,
            cgroup_root,
            seen: HashMap::new(),
            entries: HashMap::new(),
            reported: None,
        }
    }

    async fn sync(&mut self, runtimes: &mut [Runtime], answers: &mpsc::UnboundedSender<Told>) {
        let mut running: HashSet<Arc<str>> = HashSet::new();
        // A runtime that could not be listed keeps its containers' entries.
        let mut complete = true;
        for rt in runtimes.iter_mut() {
            match rt.list().await {
                Ok(ids) => running.extend(ids.into_iter().map(Arc::from)),
                Err(e) => {
                    rt.report(Some(&e));
                    complete = false;
                }
            }
        }
        let mut new = Vec::new();
        for id in &running {
            if self.seen.contains_key(id) {
                continue;
            }
            // Not described (yet): asked again at the next poll.
            if let Some(meta) = describe(runtimes, id).await {
                new.push((id.clone(), meta));
            }
        }
        if !new.is_empty() {
            let mut cgroups: HashMap<Arc<str>, Vec<u64>> = HashMap::new();
            walk_cgroups(&self.cgroup_root, |cgroup, id| {
                if let Some(id) = id {
                    cgroups.entry(id.clone()).or_default().push(cgroup);
                }
            });
            for (id, meta) in new {
                let found = cgroups.remove(&id).unwrap_or_default();
                // The reader gets the description and the cgroups before the
                // kernel admits them: its first records name the container,
                // even those read after it exited.
                let _ = answers.send((id.clone(), Some(meta.clone()), found.clone()));
                self.seen.insert(id, (meta, found));
            }
        }
        if complete {
            self.seen.retain(|id, _| running.contains(id));
        }
        let mut want = HashMap::new();
        for (meta, cgroups) in self.seen.values() {
            if let Some(v) = workload_verdict(&self.terms, meta) {
                want.extend(cgroups.iter().map(|&c| (c, v)));
            }
        }
        self.apply(want);
    }

    /// Makes the map hold `want`.
    fn apply(&mut self, want: HashMap<u64, u8>) {
        let mut failure = None;
        for (&cgroup, &v) in &want {
            if self.entries.get(&cgroup) != Some(&v) {
                match self.map.set(cgroup, v) {
                    Ok(()) => {
                        self.entries.insert(cgroup, v);
                    }
                    Err(e) => failure = Some(e),
                }
            }
        }
        let gone: Vec<u64> = self
            .entries
            .keys()
            .filter(|c| !want.contains_key(c))
            .copied()
            .collect();
        for cgroup in gone {
            match self.map.remove(cgroup) {
                Ok(()) => {
                    self.entries.remove(&cgroup);
                }
                Err(e) => failure = Some(e),
            }
        }
        match failure {
            Some(e) if self.reported.as_ref() != Some(&e) => {
                crate::warn!("sysotel: the workload scope could not be updated in the kernel: {e}");
                self.reported = Some(e);
            }
            Some(_) => {}
            None => self.reported = None,
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
        assert_eq!(
            RuntimeSocket::parse("cri=/run/containerd/containerd.sock").expect("cri"),
            RuntimeSocket {
                kind: RuntimeKind::Cri,
                path: "/run/containerd/containerd.sock".into()
            }
        );
        for bad in ["docker", "rkt=/x", "docker=", "cri="] {
            assert!(RuntimeSocket::parse(bad).is_err(), "{bad}");
        }
        assert!(RuntimeSocket::from_terms(&["none".into(), "docker=/x".into()]).is_err());
    }

    /// A map that records what it was told.
    struct Recorded(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

    impl ScopeMap for Recorded {
        fn set(&mut self, cgroup: u64, verdict: u8) -> Result<(), String> {
            self.0
                .lock()
                .unwrap()
                .push(format!("set {cgroup} {verdict}"));
            Ok(())
        }
        fn remove(&mut self, cgroup: u64) -> Result<(), String> {
            self.0.lock().unwrap().push(format!("remove {cgroup}"));
            Ok(())
        }
    }

    #[test]
    fn the_kernel_map_is_told_only_what_changed() {
        let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut w = Workloads::new(Vec::new(), Box::new(Recorded(calls.clone())), "/".into());
        w.apply(HashMap::from([(1, 1), (2, 1)]));
        w.apply(HashMap::from([(2, 2), (3, 1)]));
        w.apply(HashMap::from([(2, 2), (3, 1)]));
        let mut got = calls.lock().unwrap().clone();
        got[..2].sort();
        got[2..4].sort();
        assert_eq!(
            got,
            ["set 1 1", "set 2 1", "set 2 2", "set 3 1", "remove 1"]
        );
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
