//! Pods made through Kubernetes' CRI API (`runtime.v1`) on containerd, as
//! kubelet makes them: a sandbox with the pod's name, namespace, uid and
//! labels, then containers in it. Host network (no CNI needed).

use std::{collections::HashMap, time::Duration};

use k8s_cri::v1::{
    ContainerConfig, ContainerMetadata, ContainerState, ContainerStatusRequest,
    CreateContainerRequest, ImageSpec, ImageStatusRequest, LinuxContainerConfig,
    LinuxContainerSecurityContext, LinuxPodSandboxConfig, LinuxSandboxSecurityContext,
    NamespaceMode, NamespaceOption, PodSandboxConfig, PodSandboxMetadata, RemovePodSandboxRequest,
    RunPodSandboxRequest, StartContainerRequest, StopPodSandboxRequest,
    image_service_client::ImageServiceClient, runtime_service_client::RuntimeServiceClient,
};
use tonic::transport::Channel;

/// containerd's socket, where its CRI plugin serves.
pub const SOCKET: &str = "/run/containerd/containerd.sock";
/// The test image as containerd's k8s.io namespace names it.
pub const IMAGE: &str = "docker.io/sysotel-test/busybox:1";

/// A connection to containerd's CRI plugin.
pub struct Cri {
    rt: tokio::runtime::Runtime,
    runtime: RuntimeServiceClient<Channel>,
    images: ImageServiceClient<Channel>,
}

/// Fails, saying how to get it, unless containerd's CRI plugin answers and
/// has the test image.
pub fn require_cri() -> Cri {
    let cri = Cri::connect().unwrap_or_else(|e| {
        panic!(
            "this test needs containerd's CRI plugin at {SOCKET}: {e}; run `bash scripts/runtimes.sh` (make test does)"
        )
    });
    cri.image_id(IMAGE);
    cri
}

impl Cri {
    fn connect() -> Result<Cri, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let channel = rt.block_on(async {
            tonic::transport::Endpoint::from_static("http://localhost")
                .connect_with_connector(tower::service_fn(|_: tonic::transport::Uri| async {
                    let s = tokio::net::UnixStream::connect(SOCKET).await?;
                    Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(s))
                }))
                .await
                .map_err(|e| format!("{e:?}"))
        })?;
        let mut runtime = RuntimeServiceClient::new(channel.clone());
        rt.block_on(runtime.version(k8s_cri::v1::VersionRequest::default()))
            .map_err(|e| e.to_string())?;
        Ok(Cri {
            rt,
            runtime,
            images: ImageServiceClient::new(channel),
        })
    }

    /// The image's id (`sha256:…`) as the CRI image service reports it.
    pub fn image_id(&self, image: &str) -> String {
        let mut images = self.images.clone();
        let status = self
            .rt
            .block_on(images.image_status(ImageStatusRequest {
                image: Some(ImageSpec {
                    image: image.into(),
                    ..ImageSpec::default()
                }),
                verbose: false,
            }))
            .unwrap_or_else(|e| panic!("image status of {image}: {e}"))
            .into_inner();
        status
            .image
            .unwrap_or_else(|| panic!("containerd's k8s.io namespace has no {image}"))
            .id
    }

    /// Runs a pod sandbox as kubelet would for pod `name` in `namespace`
    /// with `uid`: the pod's metadata and kubelet's labels, its cgroup
    /// under `/kubepods/besteffort/pod<uid>`, host network.
    pub fn run_pod(&self, name: &str, namespace: &str, uid: &str) -> Pod<'_> {
        let logs = std::env::temp_dir().join(format!("sysotel-pod-{uid}"));
        std::fs::create_dir_all(&logs).expect("pod log directory");
        let config = PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: name.into(),
                uid: uid.into(),
                namespace: namespace.into(),
                attempt: 0,
            }),
            log_directory: logs.display().to_string(),
            labels: pod_labels(name, namespace, uid),
            linux: Some(LinuxPodSandboxConfig {
                cgroup_parent: format!("/kubepods/besteffort/pod{uid}"),
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(host_network()),
                    ..LinuxSandboxSecurityContext::default()
                }),
                ..LinuxPodSandboxConfig::default()
            }),
            ..PodSandboxConfig::default()
        };
        let mut runtime = self.runtime.clone();
        let id = self
            .rt
            .block_on(runtime.run_pod_sandbox(RunPodSandboxRequest {
                config: Some(config.clone()),
                runtime_handler: String::new(),
            }))
            .unwrap_or_else(|e| panic!("RunPodSandbox {namespace}/{name}: {e}"))
            .into_inner()
            .pod_sandbox_id;
        Pod {
            cri: self,
            id,
            config,
        }
    }
}

fn host_network() -> NamespaceOption {
    NamespaceOption {
        network: NamespaceMode::Node as i32,
        pid: NamespaceMode::Container as i32,
        ipc: NamespaceMode::Pod as i32,
        ..NamespaceOption::default()
    }
}

/// The labels kubelet puts on a pod's sandbox and containers.
fn pod_labels(name: &str, namespace: &str, uid: &str) -> HashMap<String, String> {
    HashMap::from([
        ("io.kubernetes.pod.name".into(), name.into()),
        ("io.kubernetes.pod.namespace".into(), namespace.into()),
        ("io.kubernetes.pod.uid".into(), uid.into()),
    ])
}

/// A running pod sandbox, stopped and removed (with its containers) when
/// dropped.
pub struct Pod<'c> {
    cri: &'c Cri,
    pub id: String,
    config: PodSandboxConfig,
}

impl Pod<'_> {
    /// Creates and starts container `name` of [`IMAGE`] running `command`;
    /// its id.
    pub fn start_container(&self, name: &str, command: &[&str]) -> String {
        let mut labels = self.config.labels.clone();
        labels.insert("io.kubernetes.container.name".into(), name.into());
        let config = ContainerConfig {
            metadata: Some(ContainerMetadata {
                name: name.into(),
                attempt: 0,
            }),
            image: Some(ImageSpec {
                image: IMAGE.into(),
                ..ImageSpec::default()
            }),
            command: command.iter().map(|c| c.to_string()).collect(),
            labels,
            log_path: format!("{name}.log"),
            linux: Some(LinuxContainerConfig {
                security_context: Some(LinuxContainerSecurityContext {
                    namespace_options: Some(host_network()),
                    ..LinuxContainerSecurityContext::default()
                }),
                ..LinuxContainerConfig::default()
            }),
            ..ContainerConfig::default()
        };
        let mut runtime = self.cri.runtime.clone();
        let id = self
            .cri
            .rt
            .block_on(runtime.create_container(CreateContainerRequest {
                pod_sandbox_id: self.id.clone(),
                config: Some(config),
                sandbox_config: Some(self.config.clone()),
            }))
            .unwrap_or_else(|e| panic!("CreateContainer {name}: {e}"))
            .into_inner()
            .container_id;
        self.cri
            .rt
            .block_on(runtime.start_container(StartContainerRequest {
                container_id: id.clone(),
            }))
            .unwrap_or_else(|e| panic!("StartContainer {name}: {e}"));
        id
    }

    /// Waits up to `timeout` for container `id` to exit.
    pub fn wait_exited(&self, id: &str, timeout: Duration) {
        let mut runtime = self.cri.runtime.clone();
        crate::wait_for(&format!("container {id} to exit"), timeout, || {
            let status = self
                .cri
                .rt
                .block_on(runtime.container_status(ContainerStatusRequest {
                    container_id: id.into(),
                    verbose: false,
                }))
                .unwrap_or_else(|e| panic!("ContainerStatus {id}: {e}"))
                .into_inner()
                .status?;
            (status.state == ContainerState::ContainerExited as i32).then_some(())
        });
    }
}

impl Drop for Pod<'_> {
    fn drop(&mut self) {
        let mut runtime = self.cri.runtime.clone();
        let _ = self
            .cri
            .rt
            .block_on(runtime.stop_pod_sandbox(StopPodSandboxRequest {
                pod_sandbox_id: self.id.clone(),
            }));
        let _ = self
            .cri
            .rt
            .block_on(runtime.remove_pod_sandbox(RemovePodSandboxRequest {
                pod_sandbox_id: self.id.clone(),
            }));
    }
}
