//! References in the configuration file's strings: `${env:NAME}` is the
//! variable's value, `${file:/path}` the file's content without its trailing
//! newline, `$${` a literal `${`. Secrets live in the environment or a
//! mounted file, and the file itself can be kept in Git.

/// A string with its references expanded.
#[derive(Debug, PartialEq, Eq)]
pub struct Expanded {
    pub text: String,
    /// Whether any part came from a reference (a secret written that way is
    /// not in the file).
    pub referenced: bool,
}

/// Expands every reference in `text`. An unset variable or an unreadable
/// file is an error naming it, never its value.
pub fn expand(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Expanded, String> {
    let mut out = String::with_capacity(text.len());
    let mut referenced = false;
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let end = after
                .find('}')
                .ok_or("`${` without its `}` (write `$${` for a literal `${`)")?;
            out.push_str(&resolve(&after[..end], env)?);
            referenced = true;
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(Expanded {
        text: out,
        referenced,
    })
}

/// The value of one reference, `env:NAME` or `file:/path`.
fn resolve(reference: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    match reference.split_once(':') {
        Some(("env", name)) if !name.is_empty() => {
            env(name).ok_or_else(|| format!("${{env:{name}}}: the variable is not set"))
        }
        Some(("file", path)) if !path.is_empty() => match std::fs::read_to_string(path) {
            Ok(mut content) => {
                while content.ends_with('\n') || content.ends_with('\r') {
                    content.pop();
                }
                Ok(content)
            }
            Err(e) => Err(format!("${{file:{path}}}: cannot read: {e}")),
        },
        _ => Err(format!(
            "`${{{reference}}}` is not a reference: write ${{env:NAME}} or ${{file:/path}} \
             (or `$${{` for a literal `${{`)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        match k {
            "TOKEN" => Some("t0ken".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn ok(text: &str) -> (String, bool) {
        let e = expand(text, &env).expect(text);
        (e.text, e.referenced)
    }

    #[test]
    fn references_expand_and_the_rest_stays() {
        assert_eq!(ok("plain $5 text"), ("plain $5 text".into(), false));
        assert_eq!(ok("Bearer ${env:TOKEN}"), ("Bearer t0ken".into(), true));
        assert_eq!(ok("${env:EMPTY}x"), ("x".into(), true));
        assert_eq!(ok("$${env:TOKEN}"), ("${env:TOKEN}".into(), false));
        assert_eq!(
            ok("a${env:TOKEN}b${env:TOKEN}"),
            ("at0kenbt0ken".into(), true)
        );
        assert_eq!(ok("ends with $"), ("ends with $".into(), false));
    }

    #[test]
    fn a_file_reference_drops_the_trailing_newline() {
        let path = std::env::temp_dir().join(format!("sysotel-expand-{}", std::process::id()));
        std::fs::write(&path, "s3cret\n\n").unwrap();
        let (text, referenced) = ok(&format!("${{file:{}}}", path.display()));
        std::fs::remove_file(&path).unwrap();
        assert_eq!((text.as_str(), referenced), ("s3cret", true));
    }

    #[test]
    fn errors_name_the_reference_not_a_value() {
        let err = |t: &str| expand(t, &env).expect_err(t);
        assert_eq!(err("${env:NOPE}"), "${env:NOPE}: the variable is not set");
        assert!(err("${file:/no/such/file}").starts_with("${file:/no/such/file}: cannot read: "));
        assert!(err("${env:TOKEN").contains("without its `}`"));
        assert!(err("${TOKEN}").contains("`${TOKEN}` is not a reference"));
        assert!(err("${vault:x}").contains("is not a reference"));
        assert!(err("${env:}").contains("is not a reference"));
    }
}
