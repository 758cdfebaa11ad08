//! Where every setting comes from: flags, then the environment (`SYSOTEL_*`
//! for every flag, and the standard `OTEL_*` variables for OTLP), then the
//! configuration file (`-c/--config`, TOML), then the defaults.
//!
//! A file setting is applied as if it were given as its flag, unless the flag
//! or one of its environment variables is set. Every value in the file is
//! checked with the flag's own parser first, so a bad one is reported at its
//! place in the file (`sysotel.toml: [scope] uid: expected an integer, got
//! "root"`) and nothing starts.

pub mod cli;
mod expand;
mod file;
mod settings;

use std::{ffi::OsString, path::PathBuf};

use clap::{ArgAction, CommandFactory, parser::ValueSource};

use crate::base::secret::{self, Holder};

pub use file::scope_terms;
pub use settings::{SETTINGS, Setting};

use cli::{Cli, Command, ConfigAction};

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
    /// What to warn about at start-up (a secret in clear in a file others
    /// can read).
    pub warnings: Vec<String>,
    matches: clap::ArgMatches,
}

/// Remembers every secret the command line and the environment hold
/// ([`secret`]), before anything is parsed: a usage error must not print
/// one either.
fn remember_given(args: &[OsString], env: &dyn Fn(&str) -> Option<String>) {
    let mut args = args.iter().map(|a| a.to_string_lossy());
    while let Some(a) = args.next() {
        for (flag, holder) in [
            ("--otlp-header", Holder::OtlpHeader),
            ("--kafka-property", Holder::KafkaProperty),
        ] {
            if a == flag {
                if let Some(v) = args.next() {
                    holder.remember(&v);
                }
            } else if let Some(v) = a.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
                holder.remember(v);
            }
        }
    }
    for (var, holder) in [
        ("SYSOTEL_OTLP_HEADER", Holder::OtlpHeader),
        ("SYSOTEL_KAFKA_PROPERTY", Holder::KafkaProperty),
    ] {
        if let Some(v) = env(var) {
            holder.remember(&v);
        }
    }
    for var in [
        "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
        "OTEL_EXPORTER_OTLP_HEADERS",
    ] {
        let Some(list) = env(var) else { continue };
        // As written (percent-encoded), and as sent.
        list.split(',').for_each(|h| Holder::OtlpHeader.remember(h));
        if let Ok(headers) = crate::otel::resource::parse_resource_attributes(&list) {
            headers.iter().for_each(|(_, v)| secret::remember(v));
        }
    }
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
        remember_given(&args, env);
        let mut cmd = command();
        let first = cmd
            .try_get_matches_from_mut(&args)
            .map_err(ConfigError::Usage)?;
        let cli =
            <Cli as clap::FromArgMatches>::from_arg_matches(&first).map_err(ConfigError::Usage)?;
        let file = match &cli.command {
            Some(Command::Config {
                action: ConfigAction::Check { file: Some(f), .. },
            }) => Some(f.clone()),
            _ => cli.config.clone(),
        };
        let Some(path) = file else {
            return Ok(Loaded {
                cli,
                cmd,
                file: None,
                from_file: Vec::new(),
                warnings: Vec::new(),
                matches: first,
            });
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ConfigError::Invalid(format!("{}: cannot read: {e}", path.display())))?;
        let file::FileArgs {
            args: injected,
            from_file,
            warnings,
            ..
        } = file::file_args(&path, &text, &cmd, &first, env)?;
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
            warnings,
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

    /// Whether `config check --show-secrets` was asked for.
    pub fn show_secrets(&self) -> bool {
        matches!(
            self.cli.command,
            Some(Command::Config {
                action: ConfigAction::Check {
                    show_secrets: true,
                    ..
                }
            })
        )
    }

    /// The effective configuration as TOML, each value with where it came
    /// from; secrets read `[REDACTED]` unless `show_secrets`.
    pub fn render(&self, show_secrets: bool) -> String {
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
            let holder = Holder::of_flag(st.flag).filter(|_| !show_secrets);
            let raw: Vec<String> = self
                .matches
                .get_raw(arg.get_id().as_str())
                .map(|v| {
                    v.map(|x| {
                        let x = x.to_string_lossy();
                        holder.map_or_else(|| x.to_string(), |h| h.redact(&x).into_owned())
                    })
                    .collect()
                })
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

    #[test]
    fn references_expand_and_secrets_in_clear_are_named() {
        use std::os::unix::fs::PermissionsExt;
        let secret = std::env::temp_dir().join(format!("sysotel-secret-{}", std::process::id()));
        std::fs::write(&secret, "from-the-file\n").unwrap();
        let file = format!(
            "[otlp]\nheaders = {{ a = \"Bearer ${{env:TOK}}\", b = \"${{file:{}}}\", c = \"in-clear\" }}\n\
             [kafka]\nproperties = [\"sasl.password=${{env:PW}}\", \"ssl.key.password=clear\", \"acks=all\"]\n\
             [scope]\ncomm = \"${{env:COMM}}\"\n",
            secret.display()
        );
        let env = [("TOK", "t0k"), ("PW", "pw"), ("COMM", "bash")];
        let l = load(&file, &[], &env).unwrap();
        assert_eq!(
            l.cli.otlp.headers,
            vec!["a=Bearer t0k", "b=from-the-file", "c=in-clear"]
        );
        assert_eq!(
            l.cli.kafka.properties,
            vec!["sasl.password=pw", "ssl.key.password=clear", "acks=all"]
        );
        assert_eq!(l.cli.scope, vec!["comm=bash"]);
        // The file is written with the process umask: make it world-readable.
        let path = l.file.clone().unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let l = load(&file, &[], &env).unwrap();
        assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
        let w = &l.warnings[0];
        assert!(
            w.contains("[kafka] properties `ssl.key.password`, [otlp] headers `c`")
                && w.contains("readable by others (mode 644)")
                && !w.contains("clear\"")
                && !w.contains("in-clear"),
            "{w}"
        );
        // Secrets are redacted where the configuration is printed.
        let shown = l.render(false);
        assert!(
            shown.contains(r#"headers = ["a=[REDACTED]", "b=[REDACTED]", "c=[REDACTED]"]"#)
                && shown.contains(
                    r#"properties = ["sasl.password=[REDACTED]", "ssl.key.password=[REDACTED]", "acks=all"]"#
                ),
            "{shown}"
        );
        assert!(l.render(true).contains("a=Bearer t0k"));
        // Unset variables and unreadable files name the key and the reference.
        assert_eq!(
            load(&file, &[], &[("PW", "pw"), ("COMM", "bash")])
                .err()
                .unwrap(),
            "FILE: [otlp] headers: ${env:TOK}: the variable is not set"
        );
        std::fs::remove_file(&secret).unwrap();
        assert!(load(&file, &[], &env).err().unwrap().starts_with(&format!(
            "FILE: [otlp] headers: ${{file:{}}}: cannot read: ",
            secret.display()
        )));
    }

    /// config/sysotel.toml names every setting and scope key, and with every
    /// line uncommented (but the cgroup, which names a path of another host)
    /// its values are valid.
    #[test]
    fn the_example_file_is_complete_and_valid() {
        let example = include_str!("../../../config/sysotel.toml");
        for st in SETTINGS {
            let line = format!("# {} = ", st.key);
            assert!(
                example.contains(&line),
                "config/sysotel.toml has no `{line}`"
            );
        }
        for (key, _) in crate::policy::scope::KEYS {
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
        let l = load(&uncommented, &[], &[("OTLP_TOKEN", "t")]).unwrap();
        assert_eq!(l.cli.ring_buffer_size, 32 << 20);
        assert_eq!(l.cli.otlp.headers, vec!["authorization=Bearer t"]);
        assert_eq!(l.cli.kafka.properties.len(), 5);
        assert!(
            l.cli.scope.contains(&"uid>999".to_string()),
            "{:?}",
            l.cli.scope
        );
    }
}
