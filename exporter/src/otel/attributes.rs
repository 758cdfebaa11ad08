//! Every attribute name sysotel emits, in one place. Semantic-convention names
//! where one exists; `sysotel.*` for what no convention covers.

// Resource.
pub const SERVICE_NAME: &str = "service.name";
pub const SERVICE_VERSION: &str = "service.version";
pub const SERVICE_INSTANCE_ID: &str = "service.instance.id";
pub const HOST_NAME: &str = "host.name";
pub const HOST_ID: &str = "host.id";
pub const HOST_ARCH: &str = "host.arch";
pub const OS_TYPE: &str = "os.type";
pub const OS_VERSION: &str = "os.version";

// Who.
pub const PROCESS_PID: &str = "process.pid";
pub const PROCESS_PARENT_PID: &str = "process.parent_pid";
pub const PROCESS_VPID: &str = "process.vpid";
pub const THREAD_ID: &str = "thread.id";
pub const THREAD_NAME: &str = "thread.name";
/// The effective user id.
pub const PROCESS_USER_ID: &str = "process.user.id";
pub const PROCESS_REAL_USER_ID: &str = "process.real_user.id";
pub const PROCESS_SAVED_USER_ID: &str = "process.saved_user.id";
pub const PROCESS_USER_NAME: &str = "process.user.name";
pub const PROCESS_REAL_USER_NAME: &str = "process.real_user.name";
pub const PROCESS_SESSION_LEADER_PID: &str = "process.session_leader.pid";
/// The process group leader's pid: the process group id.
pub const PROCESS_GROUP_LEADER_PID: &str = "process.group_leader.pid";
pub const PROCESS_INTERACTIVE: &str = "process.interactive";
/// ISO 8601 (RFC 3339) with nanoseconds, UTC.
pub const PROCESS_CREATION_TIME: &str = "process.creation.time";
/// Not in the registry (it has no group ids for processes): sysotel's own.
pub const PROCESS_REAL_GROUP_ID: &str = "sysotel.process.real_group.id";
pub const CONTAINER_ID: &str = "container.id";
pub const CONTAINER_NAME: &str = "container.name";
pub const CONTAINER_IMAGE_NAME: &str = "container.image.name";
pub const CONTAINER_IMAGE_TAGS: &str = "container.image.tags";
pub const CONTAINER_IMAGE_ID: &str = "container.image.id";
pub const CONTAINER_RUNTIME_NAME: &str = "container.runtime.name";
pub const K8S_POD_NAME: &str = "k8s.pod.name";
pub const K8S_POD_UID: &str = "k8s.pod.uid";
pub const K8S_NAMESPACE_NAME: &str = "k8s.namespace.name";
pub const K8S_CONTAINER_NAME: &str = "k8s.container.name";

// What happened.
pub const EVENT_NAME: &str = "sysotel.event.name";
pub const SEQUENCE: &str = "sysotel.sequence";
pub const RETURN_VALUE: &str = "sysotel.return_value";
pub const ERROR_TYPE: &str = "error.type";
pub const FILE_PATH: &str = "file.path";
pub const NETWORK_PEER_ADDRESS: &str = "network.peer.address";
pub const NETWORK_PEER_PORT: &str = "network.peer.port";
pub const NETWORK_LOCAL_ADDRESS: &str = "network.local.address";
pub const NETWORK_LOCAL_PORT: &str = "network.local.port";
pub const PROCESS_EXECUTABLE_PATH: &str = "process.executable.path";
pub const PROCESS_EXECUTABLE_NAME: &str = "process.executable.name";
pub const PROCESS_COMMAND_ARGS: &str = "process.command_args";
pub const PROCESS_ARGS_COUNT: &str = "process.args_count";
pub const PROCESS_EXIT_CODE: &str = "process.exit.code";
pub const SECURITY_RULE_NAME: &str = "security_rule.name";
pub const SECURITY_RULE_CATEGORY: &str = "security_rule.category";
pub const SECURITY_RULE_DESCRIPTION: &str = "security_rule.description";

// Where (no semantic convention exists).
pub const UTS_NAME: &str = "sysotel.uts_name";
pub const MNT_NS: &str = "sysotel.mnt_ns";
pub const PID_NS: &str = "sysotel.pid_ns";
pub const CGROUP_ID: &str = "sysotel.cgroup_id";

/// Prefix of the typed argument attributes: `sysotel.arg.<name>`.
pub const ARG_PREFIX: &str = "sysotel.arg.";

/// `EventName` prefixes by category.
pub const EVENT_SYSCALL_PREFIX: &str = "sysotel.syscall.";
pub const EVENT_SCHED_PREFIX: &str = "sysotel.sched.";

/// The instrumentation scope.
pub const SCOPE_NAME: &str = "sysotel";
