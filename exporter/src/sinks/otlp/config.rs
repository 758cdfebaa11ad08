//! OTLP settings: flags, then the standard `OTEL_EXPORTER_OTLP_LOGS_*` and
//! `OTEL_EXPORTER_OTLP_*` variables, then defaults, as the OpenTelemetry
//! specification orders them. Resolution is pure (the environment is passed
//! in) and every error names the setting it is about.

use std::{path::PathBuf, time::Duration};

use thiserror::Error;

use crate::{base::units::parse_size, sinks::batch::Limits};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Grpc,
    HttpProtobuf,
    HttpJson,
}

impl Protocol {
    pub fn parse(s: &str) -> Option<Protocol> {
        match s.trim() {
            "grpc" => Some(Protocol::Grpc),
            "http/protobuf" => Some(Protocol::HttpProtobuf),
            "http/json" => Some(Protocol::HttpJson),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
        }
    }
}

/// The OTLP flags as given on the command line (all optional).
#[derive(Clone, Debug, Default)]
pub struct OtlpFlags {
    pub endpoint: Option<String>,
    pub protocol: Option<String>,
    pub headers: Vec<String>,
    pub compression: Option<String>,
    pub timeout: Option<Duration>,
    pub ca_file: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub insecure: bool,
    pub batch_records: Option<usize>,
    pub batch_bytes: Option<String>,
    pub batch_age: Option<Duration>,
    pub queue_records: Option<usize>,
    pub queue_bytes: Option<String>,
    pub max_in_flight: Option<usize>,
    pub retry_max_elapsed: Option<Duration>,
}

/// Resolved, validated OTLP settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtlpConfig {
    /// Full URL: for HTTP the path included (`/v1/logs`), for gRPC the scheme
    /// says whether TLS is used.
    pub endpoint: String,
    pub protocol: Protocol,
    pub headers: Vec<(String, String)>,
    pub gzip: bool,
    pub timeout: Duration,
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key (PEM), for mutual TLS.
    pub client_identity: Option<(PathBuf, PathBuf)>,
    /// A batch closes at this many records...
    pub batch_records: usize,
    /// ...or this many encoded bytes...
    pub batch_bytes: usize,
    /// ...or when its oldest record is this old.
    pub batch_age: Duration,
    /// Records waiting (batched or not) above which new ones are dropped.
    pub queue_records: usize,
    /// Encoded bytes waiting above which new records are dropped.
    pub queue_bytes: usize,
    /// Requests sent concurrently.
    pub max_in_flight: usize,
    /// First retry delay; doubles (with jitter) up to `retry_max_delay`.
    pub retry_initial: Duration,
    pub retry_max_delay: Duration,
    /// A batch still failing after this long is dropped (counted).
    pub retry_max_elapsed: Duration,
}

impl OtlpConfig {
    /// When a batch closes.
    pub fn batch_limits(&self) -> Limits {
        Limits {
            records: self.batch_records,
            bytes: self.batch_bytes,
            age: self.batch_age,
        }
    }
}

pub const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";
pub const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318";
pub const LOGS_PATH: &str = "/v1/logs";

#[derive(Debug, Error, PartialEq, Eq)]
#[error("{setting}: {message}")]
pub struct ConfigError {
    /// The flag or variable at fault (`--otlp-endpoint`, `OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub setting: String,
    pub message: String,
}

fn err(setting: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        setting: setting.to_string(),
        message: message.into(),
    }
}

/// A value from the flag, else `OTEL_EXPORTER_OTLP_LOGS_<NAME>`, else
/// `OTEL_EXPORTER_OTLP_<NAME>`, with the name of where it came from.
fn pick(
    flag: Option<String>,
    flag_name: &str,
    env: &dyn Fn(&str) -> Option<String>,
    name: &str,
) -> Option<(String, String)> {
    if let Some(v) = flag {
        return Some((v, flag_name.to_string()));
    }
    for var in [
        format!("OTEL_EXPORTER_OTLP_LOGS_{name}"),
        format!("OTEL_EXPORTER_OTLP_{name}"),
    ] {
        if let Some(v) = env(&var).filter(|v| !v.trim().is_empty()) {
            return Some((v, var));
        }
    }
    None
}

/// `name=value,...` as the standard variables write headers. An error names
/// the header, never its value.
fn parse_headers(s: &str, setting: &str) -> Result<Vec<(String, String)>, ConfigError> {
    use crate::otel::resource::ResourceError;
    crate::otel::resource::parse_resource_attributes(s).map_err(|e| {
        let message = match e {
            ResourceError::NotKeyValue(_) => {
                "not a list of name=value headers (an entry has no name or no `=`)".to_string()
            }
            ResourceError::BadEncoding(pair) => format!(
                "header `{}`: bad percent-encoding",
                pair.split_once('=').map_or("", |(name, _)| name.trim())
            ),
        };
        err(setting, message)
    })
}

fn existing_file(p: PathBuf, setting: &str) -> Result<PathBuf, ConfigError> {
    match std::fs::metadata(&p) {
        Ok(m) if m.is_file() => Ok(p),
        Ok(_) => Err(err(setting, format!("{} is not a file", p.display()))),
        Err(e) => Err(err(setting, format!("cannot read {}: {e}", p.display()))),
    }
}

/// The environment, as `pick` reads it.
type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn protocol(flags: &OtlpFlags, env: Env) -> Result<Protocol, ConfigError> {
    match pick(flags.protocol.clone(), "--otlp-protocol", env, "PROTOCOL") {
        Some((v, from)) => Protocol::parse(&v).ok_or_else(|| {
            err(
                &from,
                format!("unknown protocol `{v}`; expected grpc, http/protobuf or http/json"),
            )
        }),
        None => Ok(Protocol::HttpProtobuf),
    }
}

fn insecure(flags: &OtlpFlags, env: Env) -> Result<bool, ConfigError> {
    match (flags.insecure, pick(None, "", env, "INSECURE")) {
        (true, _) => Ok(true),
        (false, Some((v, from))) => match v.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(err(&from, format!("`{v}` is not true or false"))),
        },
        (false, None) => Ok(false),
    }
}

/// The standard variable's headers, then the flags' (a flag replaces a
/// variable's header of the same name).
fn headers(flags: &OtlpFlags, env: Env) -> Result<Vec<(String, String)>, ConfigError> {
    let mut headers = Vec::new();
    if let Some((v, from)) = pick(None, "", env, "HEADERS") {
        headers = parse_headers(&v, &from)?;
    }
    for h in &flags.headers {
        let (k, v) = h.split_once('=').ok_or_else(|| {
            err(
                "--otlp-header",
                "a header is not name=value (its text is not shown: headers carry secrets)",
            )
        })?;
        headers.retain(|(key, _)| key != k.trim());
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    for (k, v) in &headers {
        let bad_name = k.is_empty()
            || !k
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if bad_name || v.bytes().any(|b| b.is_ascii_control()) {
            return Err(err(
                "OTLP headers",
                format!("`{k}` cannot be sent as a header"),
            ));
        }
    }
    Ok(headers)
}

fn gzip(flags: &OtlpFlags, env: Env) -> Result<bool, ConfigError> {
    let picked = pick(
        flags.compression.clone(),
        "--otlp-compression",
        env,
        "COMPRESSION",
    );
    match picked {
        Some((v, from)) => match v.trim() {
            "gzip" => Ok(true),
            "none" => Ok(false),
            _ => Err(err(
                &from,
                format!("unknown compression `{v}`; expected gzip or none"),
            )),
        },
        None => Ok(true),
    }
}

fn timeout(flags: &OtlpFlags, env: Env) -> Result<Duration, ConfigError> {
    let timeout = match (flags.timeout, pick(None, "", env, "TIMEOUT")) {
        (Some(t), _) => t,
        (None, Some((v, from))) => Duration::from_millis(
            v.trim()
                .parse()
                .map_err(|_| err(&from, format!("`{v}` is not a number of milliseconds")))?,
        ),
        (None, None) => Duration::from_secs(10),
    };
    if timeout.is_zero() {
        return Err(err("--otlp-timeout", "must be more than zero"));
    }
    Ok(timeout)
}

/// The CA file and the client certificate and key, each an existing file.
#[allow(clippy::type_complexity)]
fn tls_files(
    flags: &OtlpFlags,
    env: Env,
) -> Result<(Option<PathBuf>, Option<(PathBuf, PathBuf)>), ConfigError> {
    let file = |flag: &Option<PathBuf>, flag_name: &str, name: &str| match pick(
        flag.as_ref().map(|p| p.display().to_string()),
        flag_name,
        env,
        name,
    ) {
        Some((v, from)) => existing_file(PathBuf::from(v), &from).map(Some),
        None => Ok(None),
    };
    let ca_file = file(&flags.ca_file, "--otlp-ca-file", "CERTIFICATE")?;
    let cert = file(
        &flags.client_cert,
        "--otlp-client-cert",
        "CLIENT_CERTIFICATE",
    )?;
    let key = file(&flags.client_key, "--otlp-client-key", "CLIENT_KEY")?;
    let identity = match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        (Some(_), None) => {
            return Err(err(
                "--otlp-client-key",
                "a client certificate needs its key",
            ));
        }
        (None, Some(_)) => {
            return Err(err(
                "--otlp-client-cert",
                "a client key needs its certificate",
            ));
        }
    };
    Ok((ca_file, identity))
}

impl OtlpConfig {
    pub fn resolve(flags: &OtlpFlags, env: Env) -> Result<OtlpConfig, ConfigError> {
        // In this order: the first bad setting is the one reported.
        let protocol = protocol(flags, env)?;
        let endpoint = resolve_endpoint(flags, env, protocol, insecure(flags, env)?)?;
        let (headers, gzip, timeout) = (
            headers(flags, env)?,
            gzip(flags, env)?,
            timeout(flags, env)?,
        );
        let (ca_file, client_identity) = tls_files(flags, env)?;
        let bytes = |v: &Option<String>, name: &str, default: usize| match v {
            Some(s) => parse_size(s).map(|n| n as usize).map_err(|m| err(name, m)),
            None => Ok(default),
        };
        let cfg = OtlpConfig {
            endpoint,
            protocol,
            headers,
            gzip,
            timeout,
            ca_file,
            client_identity,
            batch_records: flags.batch_records.unwrap_or(2048),
            batch_bytes: bytes(&flags.batch_bytes, "--otlp-batch-bytes", 1 << 20)?,
            batch_age: flags.batch_age.unwrap_or(Duration::from_millis(200)),
            queue_records: flags.queue_records.unwrap_or(32_768),
            queue_bytes: bytes(&flags.queue_bytes, "--otlp-queue-bytes", 32 << 20)?,
            max_in_flight: flags.max_in_flight.unwrap_or(4),
            retry_initial: Duration::from_millis(500),
            retry_max_delay: Duration::from_secs(10),
            retry_max_elapsed: flags.retry_max_elapsed.unwrap_or(Duration::from_secs(60)),
        };
        cfg.check_limits()?;
        Ok(cfg)
    }

    /// Every bound must be more than zero.
    fn check_limits(&self) -> Result<(), ConfigError> {
        for (v, name) in [
            (self.batch_records, "--otlp-batch-records"),
            (self.batch_bytes, "--otlp-batch-bytes"),
            (self.queue_records, "--otlp-queue-records"),
            (self.queue_bytes, "--otlp-queue-bytes"),
            (self.max_in_flight, "--otlp-max-in-flight"),
        ] {
            if v == 0 {
                return Err(err(name, "must be more than zero"));
            }
        }
        if self.batch_age.is_zero() {
            return Err(err("--otlp-batch-age", "must be more than zero"));
        }
        Ok(())
    }
}

/// The endpoint rules of the OTLP exporter specification: a signal-specific
/// endpoint is used as given; the generic one gets `/v1/logs` appended for
/// HTTP. The `--otlp-endpoint` flag is taken like the generic one when its
/// path is empty (`http://collector:4318`) and as given otherwise
/// (`http://loki:3100/otlp/v1/logs`). A gRPC endpoint without a scheme uses
/// TLS unless insecure.
fn resolve_endpoint(
    flags: &OtlpFlags,
    env: &dyn Fn(&str) -> Option<String>,
    protocol: Protocol,
    insecure: bool,
) -> Result<String, ConfigError> {
    let http = protocol != Protocol::Grpc;
    let (raw, from, append) = if let Some(v) = &flags.endpoint {
        (v.clone(), "--otlp-endpoint".to_string(), true)
    } else if let Some(v) = env("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT").filter(|v| !v.trim().is_empty())
    {
        (v, "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT".to_string(), false)
    } else if let Some(v) = env("OTEL_EXPORTER_OTLP_ENDPOINT").filter(|v| !v.trim().is_empty()) {
        (v, "OTEL_EXPORTER_OTLP_ENDPOINT".to_string(), true)
    } else if http {
        (
            DEFAULT_HTTP_ENDPOINT.to_string(),
            "default".to_string(),
            true,
        )
    } else {
        (
            DEFAULT_GRPC_ENDPOINT.to_string(),
            "default".to_string(),
            false,
        )
    };
    let raw = raw.trim().to_string();
    let with_scheme = if raw.contains("://") {
        raw.clone()
    } else if http {
        return Err(err(
            &from,
            format!("`{raw}` needs a scheme (http:// or https://)"),
        ));
    } else if insecure {
        format!("http://{raw}")
    } else {
        format!("https://{raw}")
    };
    let mut url = reqwest::Url::parse(&with_scheme)
        .map_err(|e| err(&from, format!("`{raw}` is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(err(&from, format!("`{raw}`: scheme must be http or https")));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(err(&from, format!("`{raw}` has no host")));
    }
    if http && append && (url.path().is_empty() || url.path() == "/" || from != "--otlp-endpoint") {
        let path = format!("{}{LOGS_PATH}", url.path().trim_end_matches('/'));
        url.set_path(&path);
    }
    let mut s = url.to_string();
    if !http && s.ends_with('/') && url.path() == "/" {
        s.pop();
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn resolve(flags: OtlpFlags, vars: &[(&str, &str)]) -> Result<OtlpConfig, ConfigError> {
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        OtlpConfig::resolve(&flags, &move |k| env.get(k).cloned())
    }

    #[test]
    fn defaults_follow_the_spec() {
        let c = resolve(OtlpFlags::default(), &[]).unwrap();
        assert_eq!(c.protocol, Protocol::HttpProtobuf);
        assert_eq!(c.endpoint, "http://localhost:4318/v1/logs");
        assert!(c.gzip);
        assert_eq!(c.timeout, Duration::from_secs(10));
        let c = resolve(
            OtlpFlags {
                protocol: Some("grpc".into()),
                ..Default::default()
            },
            &[],
        )
        .unwrap();
        assert_eq!(c.endpoint, "http://localhost:4317");
    }

    #[test]
    fn generic_endpoint_gets_the_signal_path_specific_does_not() {
        let c = resolve(
            OtlpFlags::default(),
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://col:4318/")],
        )
        .unwrap();
        assert_eq!(c.endpoint, "http://col:4318/v1/logs");
        let c = resolve(
            OtlpFlags::default(),
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://col:4318"),
                (
                    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                    "http://loki:3100/otlp/v1/logs",
                ),
            ],
        )
        .unwrap();
        assert_eq!(c.endpoint, "http://loki:3100/otlp/v1/logs");
        let c = resolve(
            OtlpFlags {
                endpoint: Some("http://loki:3100/otlp/v1/logs".into()),
                ..Default::default()
            },
            &[("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://other:1")],
        )
        .unwrap();
        assert_eq!(c.endpoint, "http://loki:3100/otlp/v1/logs", "the flag wins");
        let c = resolve(
            OtlpFlags {
                endpoint: Some("http://col:4318".into()),
                ..Default::default()
            },
            &[],
        )
        .unwrap();
        assert_eq!(c.endpoint, "http://col:4318/v1/logs");
    }

    #[test]
    fn precedence_flag_over_logs_var_over_generic_var() {
        let vars = [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "none"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "a=1,b=x%20y"),
            ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "col:4317"),
        ];
        let c = resolve(OtlpFlags::default(), &vars).unwrap();
        assert_eq!(c.protocol, Protocol::Grpc);
        assert_eq!(
            c.endpoint, "http://col:4317",
            "insecure grpc without scheme is plaintext"
        );
        assert_eq!(c.timeout, Duration::from_millis(2500));
        assert!(!c.gzip);
        assert_eq!(
            c.headers,
            vec![("a".into(), "1".into()), ("b".into(), "x y".into())]
        );
        let c = resolve(
            OtlpFlags {
                protocol: Some("http/json".into()),
                headers: vec!["a=2".into()],
                ..Default::default()
            },
            &vars[..5],
        )
        .unwrap();
        assert_eq!(c.protocol, Protocol::HttpJson);
        assert_eq!(
            c.headers,
            vec![("b".into(), "x y".into()), ("a".into(), "2".into())]
        );
    }

    #[test]
    fn bad_input_names_the_setting() {
        let e = resolve(
            OtlpFlags {
                endpoint: Some("http://".into()),
                ..Default::default()
            },
            &[],
        )
        .unwrap_err();
        assert_eq!(e.setting, "--otlp-endpoint");
        let e = resolve(
            OtlpFlags {
                protocol: Some("carrier-pigeon".into()),
                ..Default::default()
            },
            &[],
        )
        .unwrap_err();
        assert_eq!(e.setting, "--otlp-protocol");
        let e = resolve(
            OtlpFlags::default(),
            &[("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "udp")],
        )
        .unwrap_err();
        assert_eq!(e.setting, "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL");
        let e = resolve(
            OtlpFlags {
                ca_file: Some("/nonexistent/ca.pem".into()),
                ..Default::default()
            },
            &[],
        )
        .unwrap_err();
        assert_eq!(e.setting, "--otlp-ca-file");
        let e = resolve(
            OtlpFlags::default(),
            &[("OTEL_EXPORTER_OTLP_TIMEOUT", "soon")],
        )
        .unwrap_err();
        assert_eq!(e.setting, "OTEL_EXPORTER_OTLP_TIMEOUT");
        let e = resolve(
            OtlpFlags {
                endpoint: Some("ftp://x".into()),
                ..Default::default()
            },
            &[],
        )
        .unwrap_err();
        assert!(e.message.contains("scheme"), "{e}");
    }

    #[test]
    fn header_errors_never_quote_a_value() {
        let e = resolve(
            OtlpFlags {
                headers: vec!["Bearer quoted-secret".into()],
                ..Default::default()
            },
            &[],
        )
        .unwrap_err();
        assert_eq!(e.setting, "--otlp-header");
        assert!(!e.to_string().contains("quoted-secret"), "{e}");
        for list in ["a=1,Bearer quoted-secret", "auth=quoted-secret%zz"] {
            let e = resolve(
                OtlpFlags::default(),
                &[("OTEL_EXPORTER_OTLP_HEADERS", list)],
            )
            .unwrap_err();
            assert_eq!(e.setting, "OTEL_EXPORTER_OTLP_HEADERS");
            assert!(!e.to_string().contains("quoted-secret"), "{e}");
        }
    }
}
