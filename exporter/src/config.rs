//! Where every setting comes from: flags, then the environment (`SYSOTEL_*`
//! for every flag, and the standard `OTEL_*` variables for OTLP), then the
//! configuration file (`-c/--config`, TOML), then the defaults.
//!
//! A file setting is applied as if it were given as its flag, unless the flag
//! or one of its environment variables is set. Every value in the file is
//! checked with the flag's own parser first, so a bad one is reported at its
//! place in the file (`sysotel.toml: [scope] uid: expected an integer, got
//! "root"`) and nothing starts.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
};

use clap::{ArgAction, CommandFactory, parser::ValueSource};

use crate::{
    cli::{Cli, Command, ConfigAction},
    filter::Filters,
    scope::{LiveHost, Scope},
    select::{Selection, nearest, suggest},
};

/// One file setting: its section (`""` for the top level), its key, the flag
/// it stands for, and the standard variables that override it.
pub struct Setting {
    pub section: &'static str,
    pub key: &'static str,
    pub flag: &'static str,
    pub otel: &'static [&'static str],
}

const fn s(section: &'static str, key: &'static str, flag: &'static str) -> Setting {
    Setting {
        section,
        key,
        flag,
        otel: &[],
    }
}

const fn o(key: &'static str, flag: &'static str, otel: &'static [&'static str]) -> Setting {
    Setting {
        section: "otlp",
        key,
        flag,
        otel,
    }
}

/// Every setting the file can hold. `[scope]` is a table of its own (see
/// [`scope_terms`]).
pub const SETTINGS: &[Setting] = &[
    s("", "output", "output"),
    s("", "events", "events"),
    s("", "filters", "filter"),
    s("", "ring_buffer_size", "ring-buffer-size"),
    s("", "bpf_stats", "bpf-stats"),
    s("", "loss_interval", "loss-interval"),
    s("", "stats_interval", "stats-interval"),
    s("", "shutdown_timeout", "shutdown-timeout"),
    s("", "log_level", "log-level"),
    o(
        "endpoint",
        "otlp-endpoint",
        &[
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ],
    ),
    o(
        "protocol",
        "otlp-protocol",
        &[
            "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ],
    ),
    o(
        "headers",
        "otlp-header",
        &[
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
            "OTEL_EXPORTER_OTLP_HEADERS",
        ],
    ),
    o(
        "compression",
        "otlp-compression",
        &[
            "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
            "OTEL_EXPORTER_OTLP_COMPRESSION",
        ],
    ),
    o(
        "timeout",
        "otlp-timeout",
        &[
            "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        ],
    ),
    o(
        "ca_file",
        "otlp-ca-file",
        &[
            "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE",
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
        ],
    ),
    o(
        "client_cert",
        "otlp-client-cert",
        &[
            "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE",
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
        ],
    ),
    o(
        "client_key",
        "otlp-client-key",
        &[
            "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY",
            "OTEL_EXPORTER_OTLP_CLIENT_KEY",
        ],
    ),
    o(
        "insecure",
        "otlp-insecure",
        &[
            "OTEL_EXPORTER_OTLP_LOGS_INSECURE",
            "OTEL_EXPORTER_OTLP_INSECURE",
        ],
    ),
    o("batch_records", "otlp-batch-records", &[]),
    o("batch_bytes", "otlp-batch-bytes", &[]),
    o("batch_age", "otlp-batch-age", &[]),
    o("queue_records", "otlp-queue-records", &[]),
    o("queue_bytes", "otlp-queue-bytes", &[]),
    o("max_in_flight", "otlp-max-in-flight", &[]),
    o("retry_max_elapsed", "otlp-retry-max-elapsed", &[]),
    s("kafka", "brokers", "kafka-brokers"),
    s("kafka", "topic", "kafka-topic"),
    s("kafka", "encoding", "kafka-encoding"),
    s("kafka", "key", "kafka-key"),
    s("kafka", "properties", "kafka-property"),
    s("kafka", "batch_records", "kafka-batch-records"),
    s("kafka", "batch_age", "kafka-batch-age"),
    s("kafka", "queue_records", "kafka-queue-records"),
    s("metrics", "listen", "metrics-listen"),
    s("metrics", "otlp_endpoint", "metrics-otlp-endpoint"),
    Setting {
        section: "metrics",
        key: "interval",
        flag: "metrics-interval",
        otel: &["OTEL_METRIC_EXPORT_INTERVAL"],
    },
];

/// The sections of the file.
const SECTIONS: &[&str] = &["scope", "otlp", "kafka", "metrics"];

/// The command line, with a `SYSOTEL_<FLAG>` variable for every flag; built
/// once (the variable names live for the whole run).
pub fn command() -> clap::Command {
    static COMMAND: std::sync::OnceLock<clap::Command> = std::sync::OnceLock::new();
    COMMAND
        .get_or_init(|| {
            Cli::command().mut_args(|a| {
                let Some(long) = a.get_long() else { return a };
                let var: &'static str = Box::leak(
                    format!("SYSOTEL_{}", long.to_ascii_uppercase().replace('-', "_"))
                        .into_boxed_str(),
                );
                a.env(var)
            })
        })
        .clone()
}

/// The argument behind `--long`.
fn arg<'a>(cmd: &'a clap::Command, long: &str) -> Option<&'a clap::Arg> {
    cmd.get_arguments().find(|a| a.get_long() == Some(long))
}

/// Where a setting came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Flag,
    Env(String),
    File,
    Default,
}

/// The command line, environment and file, merged.
pub struct Loaded {
    pub cli: Cli,
    /// The command line the matches came from (for each flag's source).
    cmd: clap::Command,
    pub file: Option<PathBuf>,
    /// Flags whose value came from the file, and where in the file.
    pub from_file: Vec<(&'static str, String)>,
    matches: clap::ArgMatches,
}

/// A bad configuration: clap's own error (flags, environment), or one
/// message naming the place in the file.
pub enum ConfigError {
    Usage(clap::Error),
    Invalid(String),
}

impl Loaded {
    /// Parses `args` (with the program name first), then the file they name.
    pub fn load(
        args: Vec<OsString>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Loaded, ConfigError> {
        let mut cmd = command();
        let first = cmd
            .try_get_matches_from_mut(&args)
            .map_err(ConfigError::Usage)?;
        let cli =
            <Cli as clap::FromArgMatches>::from_arg_matches(&first).map_err(ConfigError::Usage)?;
        let file = match &cli.command {
            Some(Command::Config {
                action: ConfigAction::Check { file: Some(f) },
            }) => Some(f.clone()),
            _ => cli.config.clone(),
        };
        let Some(path) = file else {
            return Ok(Loaded {
                cli,
                cmd,
                file: None,
                from_file: Vec::new(),
                matches: first,
            });
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ConfigError::Invalid(format!("{}: cannot read: {e}", path.display())))?;
        let (injected, from_file) = file_args(&path, &text, &cmd, &first, env)?;
        let mut merged = Vec::with_capacity(args.len() + injected.len());
        merged.extend(args.first().cloned());
        merged.extend(injected);
        merged.extend(args.iter().skip(1).cloned());
        let matches = cmd
            .try_get_matches_from_mut(&merged)
            .map_err(ConfigError::Usage)?;
        let cli = <Cli as clap::FromArgMatches>::from_arg_matches(&matches)
            .map_err(ConfigError::Usage)?;
        Ok(Loaded {
            cli,
            cmd,
            file: Some(path),
            from_file,
            matches,
        })
    }

    /// Where flag `long` got its value.
    pub fn source(&self, long: &str) -> Option<Source> {
        if self.from_file.iter().any(|(f, _)| *f == long) {
            return Some(Source::File);
        }
        let arg = arg(&self.cmd, long)?;
        match self.matches.value_source(arg.get_id().as_str())? {
            ValueSource::CommandLine => Some(Source::Flag),
            ValueSource::EnvVariable => Some(Source::Env(
                arg.get_env()
                    .map(|e| e.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )),
            _ => Some(Source::Default),
        }
    }

    /// Where flag `long` got its value, in words.
    pub fn source_text(&self, long: &str) -> String {
        match self.source(long) {
            Some(Source::Flag) => "flag".to_string(),
            Some(Source::Env(v)) => format!("environment {v}"),
            Some(Source::File) => "file".to_string(),
            Some(Source::Default) | None => "default".to_string(),
        }
    }

    /// The effective configuration as TOML, each value with where it came from.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut section = "";
        let mut line = |sec: &'static str, key: &str, value: Option<String>, src: String| {
            if sec != section {
                out.push_str(&format!("\n[{sec}]\n"));
                section = sec;
            }
            match value {
                Some(v) => out.push_str(&format!("{key} = {v}  # {src}\n")),
                None => out.push_str(&format!("# {key} (not set)\n")),
            }
        };
        for st in SETTINGS {
            let Some(arg) = arg(&self.cmd, st.flag) else {
                continue;
            };
            let raw: Vec<String> = self
                .matches
                .get_raw(arg.get_id().as_str())
                .map(|v| v.map(|x| x.to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            let list = matches!(arg.get_action(), ArgAction::Append);
            let value = if raw.is_empty() {
                None
            } else if list {
                Some(format!(
                    "[{}]",
                    raw.iter()
                        .map(|v| toml_string(v))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            } else if matches!(arg.get_action(), ArgAction::SetTrue) {
                Some(raw[0].clone())
            } else {
                Some(toml_string(&raw[0]))
            };
            line(st.section, st.key, value, self.source_text(st.flag));
        }
        out
    }
}

/// Rewrites a setting error that names a flag set by the file (`--kafka-encoding:
/// ...`) so that it names its place in the file instead.
pub fn locate(from_file: &[(&'static str, String)], message: &str) -> String {
    for (flag, at) in from_file {
        let name = format!("--{flag}");
        if let Some(rest) = message.strip_prefix(&name)
            && (rest.starts_with(':') || rest.starts_with(' '))
        {
            // `--scope uid=x: why` keeps the term; `--flag: why` loses the flag.
            let rest = rest.trim_start_matches(':').trim_start();
            return format!("{at}: {rest}");
        }
    }
    message.to_string()
}

fn toml_string(v: &str) -> String {
    toml::Value::String(v.to_string()).to_string()
}

/// The terms a `[scope]` entry stands for: `uid = 1000`, `uid = ">999"`,
/// `comm = ["bash", "zsh*"]`, `comm = "!=sshd"`, `container = true|false`,
/// `follow = true`, `all = true`.
pub fn scope_terms(key: &str, value: &toml::Value) -> Result<Vec<String>, String> {
    let one = |v: &toml::Value| -> Result<String, String> {
        match v {
            toml::Value::Integer(n) => Ok(format!("{key}={n}")),
            toml::Value::String(s) => {
                let s = s.trim();
                Ok(if s.starts_with(['=', '!', '<', '>']) {
                    format!("{key}{s}")
                } else {
                    format!("{key}={s}")
                })
            }
            other => Err(format!(
                "expected an integer or a string, got {}",
                type_name(other)
            )),
        }
    };
    match (key, value) {
        ("container", toml::Value::Boolean(b)) => Ok(vec![if *b {
            "container".into()
        } else {
            "!container".into()
        }]),
        ("follow" | "all", toml::Value::Boolean(true)) => Ok(vec![key.to_string()]),
        ("follow" | "all", toml::Value::Boolean(false)) => Ok(vec![]),
        ("container" | "follow" | "all", other) => {
            Err(format!("expected true or false, got {}", type_name(other)))
        }
        (_, toml::Value::Array(items)) => items.iter().map(one).collect(),
        (_, v) => Ok(vec![one(v)?]),
    }
}

fn type_name(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// The flags the file stands for (skipping those set by flag or
/// environment), each value checked where it is written.
#[allow(clippy::type_complexity)]
fn file_args(
    path: &Path,
    text: &str,
    cmd: &clap::Command,
    given: &clap::ArgMatches,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Vec<OsString>, Vec<(&'static str, String)>), ConfigError> {
    let name = path.display().to_string();
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        ConfigError::Invalid(format!("{name}: {}", e.to_string().trim_end()))
    })?;
    // Values are checked against the flags alone, without the environment.
    let mut plain = Cli::command();
    let mut args = Vec::new();
    let mut from_file = Vec::new();
    let at = |section: &str, key: &str| {
        if section.is_empty() {
            format!("{name}: {key}")
        } else {
            format!("{name}: [{section}] {key}")
        }
    };
    let given_by_user = |flag: &str, otel: &[&str]| {
        let arg = arg(cmd, flag).expect("every setting is a flag");
        matches!(
            given.value_source(arg.get_id().as_str()),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) || otel
            .iter()
            .any(|v| env(v).is_some_and(|x| !x.trim().is_empty()))
    };
    let mut entries: Vec<(&str, &str, &toml::Value)> = Vec::new();
    for (k, v) in &table {
        match v {
            toml::Value::Table(t) if SECTIONS.contains(&k.as_str()) => {
                entries.extend(t.iter().map(|(kk, vv)| (k.as_str(), kk.as_str(), vv)));
            }
            toml::Value::Table(_)
                if !SETTINGS.iter().any(|s| s.section.is_empty() && s.key == k) =>
            {
                let near = nearest(k, SECTIONS.iter().copied());
                return Err(ConfigError::Invalid(format!(
                    "{name}: [{k}]: unknown section{}",
                    suggest(&near)
                )));
            }
            _ => entries.push(("", k.as_str(), v)),
        }
    }
    // [scope]
    let scope_given = given_by_user("scope", &[]);
    let mut scope_terms_all = Vec::new();
    for (section, key, value) in &entries {
        if *section != "scope" {
            continue;
        }
        let place = at(section, key);
        let terms =
            scope_terms(key, value).map_err(|m| ConfigError::Invalid(format!("{place}: {m}")))?;
        // Each term on its own (`follow` and `all` only make sense with others).
        for t in terms
            .iter()
            .filter(|t| !matches!(*key, "follow" | "all") || t.contains('='))
        {
            Scope::parse(&[t.as_str()], &LiveHost).map_err(|e| {
                ConfigError::Invalid(match &e.key {
                    Some(_) => format!("{place}: {}", e.message),
                    None => format!("{name}: [scope] {}", e.message),
                })
            })?;
        }
        scope_terms_all.extend(terms);
    }
    if !scope_given && !scope_terms_all.is_empty() {
        Scope::parse(&scope_terms_all, &LiveHost)
            .map_err(|e| ConfigError::Invalid(format!("{name}: [scope]: {}", e.message)))?;
        for t in &scope_terms_all {
            args.push(OsString::from(format!("--scope={t}")));
        }
        from_file.push(("scope", format!("{name}: [scope]")));
    }
    for (section, key, value) in entries {
        if section == "scope" {
            continue;
        }
        let place = at(section, key);
        let Some(setting) = SETTINGS
            .iter()
            .find(|s| s.section == section && s.key == key)
        else {
            let near = nearest(
                key,
                SETTINGS
                    .iter()
                    .filter(|s| s.section == section)
                    .map(|s| s.key)
                    .chain(
                        if section.is_empty() { SECTIONS } else { &[] }
                            .iter()
                            .copied(),
                    ),
            );
            return Err(ConfigError::Invalid(format!(
                "{place}: unknown key{}",
                suggest(&near)
            )));
        };
        let action = arg(cmd, setting.flag)
            .expect("every setting is a flag")
            .get_action();
        let values = toml_values(value, action)
            .map_err(|m| ConfigError::Invalid(format!("{place}: {m}")))?;
        for v in &values {
            check_value(&mut plain, setting, v)
                .map_err(|m| ConfigError::Invalid(format!("{place}: {m}")))?;
        }
        if given_by_user(setting.flag, setting.otel) {
            continue;
        }
        for v in values {
            args.push(match v {
                None => OsString::from(format!("--{}", setting.flag)),
                Some(v) => OsString::from(format!("--{}={v}", setting.flag)),
            });
        }
        from_file.push((setting.flag, place));
    }
    Ok((args, from_file))
}

/// A file value as flag values: `None` for a flag that is on, nothing for
/// one that is off.
fn toml_values(value: &toml::Value, action: &ArgAction) -> Result<Vec<Option<String>>, String> {
    let scalar = |v: &toml::Value| -> Result<String, String> {
        match v {
            toml::Value::String(s) => Ok(s.clone()),
            toml::Value::Integer(n) => Ok(n.to_string()),
            other => Err(format!("expected a string, got {}", type_name(other))),
        }
    };
    match action {
        ArgAction::SetTrue => match value {
            toml::Value::Boolean(true) => Ok(vec![None]),
            toml::Value::Boolean(false) => Ok(vec![]),
            other => Err(format!("expected true or false, got {}", type_name(other))),
        },
        ArgAction::Append => match value {
            toml::Value::Array(items) => items.iter().map(|v| scalar(v).map(Some)).collect(),
            // `headers` and `properties`: a table of key = "value".
            toml::Value::Table(t) => t
                .iter()
                .map(|(k, v)| scalar(v).map(|v| Some(format!("{k}={v}"))))
                .collect(),
            v => Ok(vec![Some(scalar(v)?)]),
        },
        _ => Ok(vec![Some(scalar(value)?)]),
    }
}

/// Checks one value with the parser its flag uses.
fn check_value(
    plain: &mut clap::Command,
    setting: &Setting,
    value: &Option<String>,
) -> Result<(), String> {
    let Some(v) = value else { return Ok(()) };
    match setting.flag {
        "events" => {
            return Selection::parse(&[v])
                .map(|_| ())
                .map_err(|e| strip_flag(&e.to_string(), "events"));
        }
        "filter" => {
            return Filters::parse(&[v])
                .map(|_| ())
                .map_err(|e| strip_flag(&e.message, "filter"));
        }
        _ => {}
    }
    let flag = format!("--{}={v}", setting.flag);
    let possible: Vec<String> = arg(plain, setting.flag)
        .map(|a| {
            a.get_possible_values()
                .iter()
                .map(|p| p.get_name().to_string())
                .collect()
        })
        .unwrap_or_default();
    match plain.try_get_matches_from_mut(["sysotel", flag.as_str()]) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == clap::error::ErrorKind::InvalidValue && !possible.is_empty() => {
            Err(format!("`{v}` is not one of {}", possible.join(", ")))
        }
        Err(e) => Err(match std::error::Error::source(&e) {
            Some(inner) => inner.to_string(),
            None => {
                let text = e.to_string();
                let first = text.lines().next().unwrap_or_default();
                first.strip_prefix("error: ").unwrap_or(first).to_string()
            }
        }),
    }
}

/// `--events: why` -> `why`; `--filter TERM: why` -> `TERM: why`.
fn strip_flag(message: &str, flag: &str) -> String {
    message
        .strip_prefix(&format!("--{flag}: "))
        .or_else(|| message.strip_prefix(&format!("--{flag} ")))
        .unwrap_or(message)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(file: &str, args: &[&str], env: &[(&str, &str)]) -> Result<Loaded, String> {
        let dir = std::env::temp_dir().join(format!("sysotel-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("t{}.toml", file.len()));
        std::fs::write(&path, file).unwrap();
        let mut argv: Vec<OsString> = vec!["sysotel".into(), "-c".into(), path.clone().into()];
        argv.extend(args.iter().map(OsString::from));
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let r = Loaded::load(argv, &|k| {
            env.iter().find(|(a, _)| a == k).map(|(_, b)| b.clone())
        });
        r.map_err(|e| match e {
            ConfigError::Usage(e) => e.to_string(),
            ConfigError::Invalid(m) => m.replace(&path.display().to_string(), "FILE"),
        })
    }

    #[test]
    fn file_values_apply_unless_a_flag_is_given() {
        let file = "ring_buffer_size = \"8M\"\nevents = [\"openat\"]\n[scope]\nuid = 1000\n[otlp]\nendpoint = \"http://col:4318\"\n";
        let l = load(file, &[], &[]).unwrap();
        assert_eq!(l.cli.ring_buffer_size, 8 << 20);
        assert_eq!(l.cli.events, vec!["openat"]);
        assert_eq!(l.cli.scope, vec!["uid=1000"]);
        assert_eq!(l.cli.otlp.endpoint.as_deref(), Some("http://col:4318"));
        assert_eq!(l.source("ring-buffer-size"), Some(Source::File));
        let l = load(file, &["--ring-buffer-size", "4M", "--scope", "all"], &[]).unwrap();
        assert_eq!(l.cli.ring_buffer_size, 4 << 20);
        assert_eq!(l.cli.scope, vec!["all"]);
        assert_eq!(l.source("ring-buffer-size"), Some(Source::Flag));
        // The standard variable beats the file.
        let l = load(
            file,
            &[],
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318")],
        )
        .unwrap();
        assert_eq!(l.cli.otlp.endpoint, None);
    }

    #[test]
    fn errors_name_their_place() {
        assert_eq!(
            load("[scope]\nuid = \"root\"\n", &[], &[]).err().unwrap(),
            "FILE: [scope] uid: expected an integer, got \"root\""
        );
        assert_eq!(
            load("[otlp]\nendpont = \"x\"\n", &[], &[]).err().unwrap(),
            "FILE: [otlp] endpont: unknown key; did you mean endpoint?"
        );
        assert_eq!(
            load("ring_buffer_size = \"3M\"\n", &[], &[]).err().unwrap(),
            "FILE: ring_buffer_size: `3M` must be a power of two between 4K and 1G (the kernel's ring buffer rule)"
        );
        assert_eq!(
            load("bpf_stats = \"yes\"\n", &[], &[]).err().unwrap(),
            "FILE: bpf_stats: expected true or false, got a string"
        );
        assert_eq!(
            load("[kafkaa]\nbrokers = \"x\"\n", &[], &[]).err().unwrap(),
            "FILE: [kafkaa]: unknown section; did you mean kafka?"
        );
        assert!(
            load("events = [\"opnat\"]\n", &[], &[])
                .err()
                .unwrap()
                .starts_with("FILE: events: unknown event or set `opnat`")
        );
        assert!(
            load("x = \n", &[], &[])
                .err()
                .unwrap()
                .starts_with("FILE: ")
        );
    }

    /// config/sysotel.toml names every setting and scope key, and with every
    /// line uncommented (but the cgroup, which names a path of another host)
    /// its values are valid.
    #[test]
    fn the_example_file_is_complete_and_valid() {
        let example = include_str!("../../config/sysotel.toml");
        for st in SETTINGS {
            let line = format!("# {} = ", st.key);
            assert!(
                example.contains(&line),
                "config/sysotel.toml has no `{line}`"
            );
        }
        for (key, _) in crate::scope::KEYS {
            assert!(
                example.contains(&format!("# {key} = ")),
                "no scope key {key}"
            );
        }
        let uncommented: String = example
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if rest.split_once(" = ").is_some_and(|(k, _)| {
                        k.chars().all(|c| c.is_ascii_lowercase() || c == '_') && k != "cgroup"
                    }) =>
                {
                    rest
                }
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let l = load(&uncommented, &[], &[]).unwrap();
        assert_eq!(l.cli.ring_buffer_size, 32 << 20);
        assert_eq!(l.cli.kafka.properties.len(), 5);
        assert!(
            l.cli.scope.contains(&"uid>999".to_string()),
            "{:?}",
            l.cli.scope
        );
    }
}
