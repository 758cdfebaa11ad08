//! Everything the command line, the environment and the file asked for,
//! validated before anything is loaded.

use crate::{
    config::cli::{Cli, Output},
    enrich::RuntimeSocket,
    event::select::Selection,
    otel::Resource,
    policy::{Filters, LiveHost, Scope, scope::WorkloadKey},
    sinks::{disk::QueueSettings, kafka::KafkaConfig, otlp::OtlpConfig},
};

/// Everything the command line and environment asked for, validated before
/// anything is loaded: a bad setting is a usage error (exit 2).
pub struct Plan {
    pub cli: Cli,
    pub selection: Selection,
    pub scope: Scope,
    pub filters: Filters,
    pub otlp: Option<OtlpConfig>,
    pub kafka: Option<KafkaConfig>,
    /// The OTLP resource (only detected, and only validated, for `-o otlp`
    /// and `-o kafka`).
    pub resource: Option<Resource>,
    /// The container runtimes asked for names and images.
    pub runtimes: Vec<RuntimeSocket>,
    /// The network outputs' disk queue (`--queue-dir`).
    pub queue: Option<QueueSettings>,
}

impl Plan {
    pub fn new(cli: Cli, env: &dyn Fn(&str) -> Option<String>) -> Result<Plan, String> {
        let selection = Selection::parse(&cli.events).map_err(|e| e.to_string())?;
        let scope = Scope::parse(&cli.scope, &LiveHost).map_err(|e| e.at_flag())?;
        let filters = Filters::parse(&cli.filters).map_err(|e| e.to_string())?;
        let runtimes = RuntimeSocket::from_terms(&cli.container_runtimes)
            .map_err(|e| format!("--container-runtime: {e}"))?;
        if let Some(t) = scope
            .terms
            .iter()
            .find(|t| WorkloadKey::of(&t.key).is_some())
            && runtimes.is_empty()
        {
            return Err(format!(
                "--scope {t}: a workload term needs a container runtime to ask, and --container-runtime is none"
            ));
        }
        if cli.loss_interval.is_zero() {
            return Err("--loss-interval: must be more than zero".into());
        }
        if cli.queue_sync.is_zero() || cli.queue_sync > std::time::Duration::from_secs(60) {
            return Err("--queue-sync: must be more than zero and at most 60s".into());
        }
        if cli.queue_max_bytes < 1 << 20 {
            return Err("--queue-max-bytes: must be at least 1M".into());
        }
        let queue = cli.queue_dir.as_ref().map(|dir| QueueSettings {
            dir: dir.clone(),
            max_bytes: cli.queue_max_bytes,
            sync: cli.queue_sync,
        });
        if queue.is_some()
            && !cli
                .outputs
                .iter()
                .any(|o| matches!(o, Output::Otlp | Output::Kafka))
        {
            return Err("--queue-dir: only the network outputs (-o otlp, -o kafka) have a disk queue, and none is chosen".into());
        }
        if cli.stats_interval.is_some_and(|d| d.is_zero()) {
            return Err("--stats-interval: must be more than zero".into());
        }
        let otlp = if cli.outputs.contains(&Output::Otlp) {
            Some(OtlpConfig::resolve(&cli.otlp.flags(), env).map_err(|e| e.to_string())?)
        } else {
            None
        };
        let kafka = if cli.outputs.contains(&Output::Kafka) {
            Some(KafkaConfig::resolve(&cli.kafka.flags()).map_err(|e| e.to_string())?)
        } else {
            None
        };
        if let Some(url) = &cli.metrics_otlp_endpoint
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(format!(
                "--metrics-otlp-endpoint: `{url}` is not an http:// or https:// URL"
            ));
        }
        if cli.metrics_interval.is_some_and(|d| d.is_zero()) {
            return Err("--metrics-interval: must be more than zero".into());
        }
        let resource = if otlp.is_some() || kafka.is_some() || cli.metrics_otlp_endpoint.is_some() {
            Some(
                Resource::detect(
                    env("OTEL_RESOURCE_ATTRIBUTES").as_deref(),
                    env("OTEL_SERVICE_NAME").as_deref(),
                )
                .map_err(|e| e.to_string())?,
            )
        } else {
            None
        };
        Ok(Plan {
            cli,
            selection,
            scope,
            filters,
            otlp,
            kafka,
            resource,
            runtimes,
            queue,
        })
    }
}
