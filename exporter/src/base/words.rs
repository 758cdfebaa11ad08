//! Matching names: globs, and the nearest known names for an error message.

/// `*` any run of characters, `?` one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Up to three of `candidates` nearest to `name` (edit distance, or a prefix).
pub fn nearest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut all: Vec<(usize, &str)> = candidates
        .map(|n| (distance(name, n), n))
        .filter(|(d, n)| *d <= 2.max(name.len() / 3) || n.starts_with(name))
        .collect();
    all.sort();
    all.dedup();
    all.into_iter()
        .take(3)
        .map(|(_, n)| n.to_string())
        .collect()
}

/// `; did you mean a, b?` for the nearest names, or nothing.
pub fn suggest(closest: &[String]) -> String {
    if closest.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", closest.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches() {
        assert!(glob("open*", "openat"));
        assert!(glob("*at", "openat"));
        assert!(glob("o?enat", "openat"));
        assert!(!glob("open?", "openat"));
        assert!(glob("*", "x"));
    }

    #[test]
    fn nearest_names() {
        let names = ["openat", "openat2", "read"];
        assert_eq!(nearest("opnat", names.into_iter()), ["openat", "openat2"]);
        assert_eq!(suggest(&[]), "");
        assert_eq!(suggest(&["a".into()]), "; did you mean a?");
    }
}
