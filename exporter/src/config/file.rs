//! The configuration file as flags: every value checked with its flag's own
//! parser where it is written, and applied unless a flag or the environment
//! set it. `${env:NAME}` and `${file:/path}` expand in every string.

use std::{ffi::OsString, path::Path};

use clap::{ArgAction, CommandFactory, parser::ValueSource};

use super::{
    ConfigError, arg,
    cli::Cli,
    expand::expand,
    settings::{SECTIONS, SETTINGS, Setting},
};
use crate::{
    base::{
        secret::Holder,
        words::{nearest, suggest},
    },
    event::select::Selection,
    policy::{Filters, LiveHost, Scope},
};

/// A `[scope]` entry, with the entries of a table under it as `key.sub`.
fn flatten<'t>(key: String, value: &'t toml::Value, out: &mut Vec<(String, &'t toml::Value)>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                flatten(format!("{key}.{k}"), v, out);
            }
        }
        v => out.push((key, v)),
    }
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

/// `value` with the references in its strings expanded (table keys stay as
/// written).
fn expand_value(
    value: &toml::Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<toml::Value, String> {
    Ok(match value {
        toml::Value::String(s) => toml::Value::String(expand(s, env)?.text),
        toml::Value::Array(items) => toml::Value::Array(
            items
                .iter()
                .map(|v| expand_value(v, env))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(t) => toml::Value::Table(
            t.iter()
                .map(|(k, v)| Ok((k.clone(), expand_value(v, env)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
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

/// A file being turned into flags: its name (for messages), the command
/// line, what the user gave by flag or environment, and the environment.
struct File<'a> {
    name: String,
    cmd: &'a clap::Command,
    given: &'a clap::ArgMatches,
    env: &'a dyn Fn(&str) -> Option<String>,
}

/// One `key = value` of the file, with its section (`""` at the top).
type Entry<'t> = (&'t str, &'t str, &'t toml::Value);

/// What the file stands for: the flags, and for each flag its place.
#[derive(Default)]
pub(super) struct FileArgs {
    pub args: Vec<OsString>,
    pub from_file: Vec<(&'static str, String)>,
    /// Secrets written in clear, by place and name (`[otlp] headers
    /// authorization`).
    pub literal_secrets: Vec<String>,
    /// What to warn about at start-up.
    pub warnings: Vec<String>,
}

impl File<'_> {
    /// `FILE: key` or `FILE: [section] key`.
    fn at(&self, section: &str, key: &str) -> String {
        if section.is_empty() {
            format!("{}: {key}", self.name)
        } else {
            format!("{}: [{section}] {key}", self.name)
        }
    }

    fn invalid(&self, place: &str, message: impl std::fmt::Display) -> ConfigError {
        ConfigError::Invalid(format!("{place}: {message}"))
    }

    /// Whether the user set `flag` by flag or environment (its own variable
    /// or one of the standard `otel` ones): then the file does not.
    fn given_by_user(&self, flag: &str, otel: &[&str]) -> bool {
        let arg = arg(self.cmd, flag).expect("every setting is a flag");
        matches!(
            self.given.value_source(arg.get_id().as_str()),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) || otel
            .iter()
            .any(|v| (self.env)(v).is_some_and(|x| !x.trim().is_empty()))
    }

    /// The file's entries, sections flattened; an unknown section is an error.
    fn entries<'t>(&self, table: &'t toml::Table) -> Result<Vec<Entry<'t>>, ConfigError> {
        let mut entries = Vec::new();
        for (k, v) in table {
            match v {
                toml::Value::Table(t) if SECTIONS.contains(&k.as_str()) => {
                    entries.extend(t.iter().map(|(kk, vv)| (k.as_str(), kk.as_str(), vv)));
                }
                toml::Value::Table(_)
                    if !SETTINGS.iter().any(|s| s.section.is_empty() && s.key == k) =>
                {
                    let near = nearest(k, SECTIONS.iter().copied());
                    return Err(ConfigError::Invalid(format!(
                        "{}: [{k}]: unknown section{}",
                        self.name,
                        suggest(&near)
                    )));
                }
                _ => entries.push(("", k.as_str(), v)),
            }
        }
        Ok(entries)
    }

    /// `[scope]`: each term checked where it is written, then the whole
    /// scope, which becomes `--scope` flags unless the user gave a scope.
    fn scope(&self, entries: &[Entry], out: &mut FileArgs) -> Result<(), ConfigError> {
        let mut all = Vec::new();
        // `k8s.namespace = "shop"` is TOML for a table `k8s` with a key
        // `namespace`: the dotted keys are put back together.
        let mut flat: Vec<(String, &toml::Value)> = Vec::new();
        for &(_, key, value) in entries.iter().filter(|(s, _, _)| *s == "scope") {
            flatten(key.to_string(), value, &mut flat);
        }
        for (key, value) in &flat {
            let (section, key, value) = ("scope", key.as_str(), *value);
            let place = self.at(section, key);
            let value = expand_value(value, self.env).map_err(|m| self.invalid(&place, m))?;
            let terms = scope_terms(key, &value).map_err(|m| self.invalid(&place, m))?;
            // Each term on its own (`follow` and `all` only make sense with others).
            for t in terms
                .iter()
                .filter(|t| !matches!(key, "follow" | "all") || t.contains('='))
            {
                Scope::parse(&[t.as_str()], &LiveHost).map_err(|e| match &e.key {
                    Some(_) => self.invalid(&place, &e.message),
                    None => ConfigError::Invalid(format!("{}: [scope] {}", self.name, e.message)),
                })?;
            }
            all.extend(terms);
        }
        if self.given_by_user("scope", &[]) || all.is_empty() {
            return Ok(());
        }
        Scope::parse(&all, &LiveHost)
            .map_err(|e| ConfigError::Invalid(format!("{}: [scope]: {}", self.name, e.message)))?;
        out.args
            .extend(all.iter().map(|t| OsString::from(format!("--scope={t}"))));
        out.from_file
            .push(("scope", format!("{}: [scope]", self.name)));
        Ok(())
    }

    /// Every other entry: a known setting whose values its flag's parser
    /// accepts, applied unless the user set the flag.
    fn settings(
        &self,
        entries: &[Entry],
        plain: &mut clap::Command,
        out: &mut FileArgs,
    ) -> Result<(), ConfigError> {
        for &(section, key, value) in entries.iter().filter(|(s, _, _)| *s != "scope") {
            let place = self.at(section, key);
            let setting = known_setting(section, key).map_err(|m| self.invalid(&place, m))?;
            let action = arg(self.cmd, setting.flag)
                .expect("every setting is a flag")
                .get_action();
            if let Some(holder) = Holder::of_flag(setting.flag) {
                let written = toml_values(value, action).map_err(|m| self.invalid(&place, m))?;
                let at = format!("[{section}] {key}");
                out.literal_secrets
                    .extend(literal_secrets(holder, &written, &at));
            }
            let value = expand_value(value, self.env).map_err(|m| self.invalid(&place, m))?;
            let values = toml_values(&value, action).map_err(|m| self.invalid(&place, m))?;
            if let Some(holder) = Holder::of_flag(setting.flag) {
                values.iter().flatten().for_each(|v| holder.remember(v));
            }
            for v in &values {
                check_value(plain, setting, v).map_err(|m| self.invalid(&place, m))?;
            }
            if self.given_by_user(setting.flag, setting.otel) {
                continue;
            }
            out.args.extend(values.into_iter().map(|v| match v {
                None => OsString::from(format!("--{}", setting.flag)),
                Some(v) => OsString::from(format!("--{}={v}", setting.flag)),
            }));
            out.from_file.push((setting.flag, place));
        }
        Ok(())
    }
}

/// The secrets among `written` (a setting's values before expansion) that
/// are in clear: no reference in them. Each as `[section] key NAME`.
fn literal_secrets(holder: Holder, written: &[Option<String>], place: &str) -> Vec<String> {
    written
        .iter()
        .flatten()
        .filter(|v| holder.redact(v) != v.as_str() && !v.contains("${"))
        .map(|v| match v.split_once('=') {
            Some((name, _)) => format!("{place} `{}`", name.trim()),
            None => place.to_string(),
        })
        .collect()
}

/// A warning when the file holds a secret in clear and others can read it;
/// it names the places, never the values.
fn permission_warning(path: &Path, literal: &[String]) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    if literal.is_empty() {
        return None;
    }
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o044 != 0).then(|| {
        format!(
            "sysotel: warning: {} holds secrets in clear ({}) and is readable by {} \
             (mode {:o}): chmod 600 it, or write ${{env:NAME}} or ${{file:/path}} in their place",
            path.display(),
            literal.join(", "),
            if mode & 0o004 != 0 {
                "others"
            } else {
                "its group"
            },
            mode & 0o777,
        )
    })
}

/// The setting `key` of `section`, or an error naming the closest ones.
fn known_setting(section: &str, key: &str) -> Result<&'static Setting, String> {
    SETTINGS
        .iter()
        .find(|s| s.section == section && s.key == key)
        .ok_or_else(|| {
            let sections: &[&str] = if section.is_empty() { SECTIONS } else { &[] };
            let near = nearest(
                key,
                SETTINGS
                    .iter()
                    .filter(|s| s.section == section)
                    .map(|s| s.key)
                    .chain(sections.iter().copied()),
            );
            format!("unknown key{}", suggest(&near))
        })
}

/// The flags the file stands for (skipping those set by flag or
/// environment), each value checked where it is written.
pub(super) fn file_args(
    path: &Path,
    text: &str,
    cmd: &clap::Command,
    given: &clap::ArgMatches,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<FileArgs, ConfigError> {
    let file = File {
        name: path.display().to_string(),
        cmd,
        given,
        env,
    };
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        ConfigError::Invalid(format!("{}: {}", file.name, e.to_string().trim_end()))
    })?;
    let entries = file.entries(&table)?;
    let mut out = FileArgs::default();
    file.scope(&entries, &mut out)?;
    // Values are checked against the flags alone, without the environment.
    file.settings(&entries, &mut Cli::command(), &mut out)?;
    out.warnings
        .extend(permission_warning(path, &out.literal_secrets));
    Ok(out)
}
