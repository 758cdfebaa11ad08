//! The words of a scope term: `key`, `!key`, `key OP value`, `!key=value`,
//! the keys there are, and an error that names its term.

/// Every key, with what it takes (shown in errors and `--help`).
pub const KEYS: &[(&str, &str)] = &[
    ("pid", "a pid, or `new` (processes created after start-up)"),
    ("ppid", "a parent pid"),
    ("uid", "a user id; =, !=, <, >, <=, >="),
    ("gid", "a group id; =, !=, <, >, <=, >="),
    ("comm", "a command name, exact or `prefix*`"),
    ("exe", "an executable path, or a glob (`/usr/bin/*`)"),
    ("mntns", "a mount namespace inode"),
    ("pidns", "a pid namespace inode"),
    ("uts", "a hostname, exact or `prefix*`"),
    (
        "container",
        "no value: processes outside the host's pid namespace (sysotel's own)",
    ),
    (
        "cgroup",
        "a cgroup v2 path, relative to its mount (and every cgroup below it)",
    ),
    (
        "k8s.namespace",
        "a Kubernetes namespace, exact or a glob (containers resolved by their runtime)",
    ),
    ("k8s.pod", "a Kubernetes pod's name, exact or a glob"),
    ("container.name", "a container's name, exact or a glob"),
    (
        "container.image",
        "a container's image name (without its tag), exact or a glob",
    ),
    (
        "follow",
        "no value: also trace the descendants of what matched",
    ),
    ("all", "no value: every process"),
];

/// The keys that take no value.
pub fn is_flag_key(key: &str) -> bool {
    matches!(key, "container" | "follow" | "all")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

impl Op {
    pub fn text(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Ge => ">=",
        }
    }
}

/// One parsed term, as written (for `config check`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    pub key: String,
    /// None for keys without a value (`container`, `follow`, `all`).
    pub op: Option<Op>,
    pub value: String,
    /// `!key` / `!container`.
    pub negated: bool,
}

impl std::fmt::Display for Term {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.op {
            None if self.negated => write!(f, "!{}", self.key),
            None => write!(f, "{}", self.key),
            Some(op) => write!(f, "{}{}{}", self.key, op.text(), self.value),
        }
    }
}

/// Splits `key`, `!key`, `key OP value`, `!key=value`.
pub fn split_term(s: &str) -> Result<Term, String> {
    let t = s.trim();
    let (negated, t) = match t.strip_prefix('!') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, t),
    };
    let Some(at) = t.find(['=', '!', '<', '>']) else {
        return Ok(Term {
            key: t.to_string(),
            op: None,
            value: String::new(),
            negated,
        });
    };
    let (key, rest) = t.split_at(at);
    let (op, value) = split_op(rest)
        .ok_or_else(|| format!("`{s}`: expected key=value, key!=value, key<value or key>value"))?;
    // `!key=v` is `key!=v`; `!key!=v` would be a double negation.
    let op = match (negated, op) {
        (false, op) => op,
        (true, Op::Eq) => Op::Ne,
        (true, _) => return Err(format!("`{s}`: `!` goes with `=` only (write key!=value)")),
    };
    Ok(Term {
        key: key.trim().to_string(),
        op: Some(op),
        value: value.trim().to_string(),
        negated: false,
    })
}

/// The operator at the start of `rest`, and what follows it.
fn split_op(rest: &str) -> Option<(Op, &str)> {
    // Two-character operators first.
    [
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("=", Op::Eq),
        ("<", Op::Lt),
        (">", Op::Gt),
    ]
    .into_iter()
    .find_map(|(text, op)| rest.strip_prefix(text).map(|v| (op, v)))
}

/// An error in one term: the key (or the whole term) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TermError {
    pub term: String,
    pub key: Option<String>,
    pub message: String,
}

impl TermError {
    /// `--scope uid=root: expected an integer, got "root"`.
    pub fn at_flag(&self) -> String {
        format!("--scope {}: {}", self.term, self.message)
    }
}
