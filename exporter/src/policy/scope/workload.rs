//! Workload terms: containers by their Kubernetes namespace, pod, name or
//! image. The kernel cannot read those; user space resolves the terms to
//! the cgroups of the containers they admit or exclude (`ScopeKey::Workload`
//! entries of `SCOPE_IDS`), and keeps them current as containers start and
//! stop.

use exporter_common::scope::{TERM_EXCLUDE, TERM_INCLUDE};

use crate::{base::words::glob, event::ContainerMeta};

/// What a workload term names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkloadKey {
    /// `k8s.namespace`: the pod's namespace.
    Namespace,
    /// `k8s.pod`: the pod's name.
    Pod,
    /// `container.name`.
    ContainerName,
    /// `container.image`: the image's name, without its tag.
    ContainerImage,
}

impl WorkloadKey {
    /// The key a scope term names, if it is a workload key.
    pub fn of(key: &str) -> Option<WorkloadKey> {
        Some(match key {
            "k8s.namespace" => WorkloadKey::Namespace,
            "k8s.pod" => WorkloadKey::Pod,
            "container.name" => WorkloadKey::ContainerName,
            "container.image" => WorkloadKey::ContainerImage,
            _ => return None,
        })
    }

    /// The container's value for this key (none: a container in no pod, an
    /// image the runtime does not name).
    fn value(self, m: &ContainerMeta) -> Option<&str> {
        match self {
            WorkloadKey::Namespace => m.pod.as_ref().map(|p| p.namespace.as_str()),
            WorkloadKey::Pod => m.pod.as_ref().map(|p| p.name.as_str()),
            WorkloadKey::ContainerName => Some(&m.name),
            WorkloadKey::ContainerImage => m.image_name.as_deref(),
        }
    }
}

/// One `key=glob` or `key!=glob` term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadTerm {
    pub key: WorkloadKey,
    pub glob: String,
    pub exclude: bool,
}

impl WorkloadTerm {
    fn matches(&self, m: &ContainerMeta) -> bool {
        self.key.value(m).is_some_and(|v| glob(&self.glob, v))
    }
}

/// What the kernel is told of a container's cgroups: [`TERM_EXCLUDE`] when
/// a `!=` term matches it, [`TERM_INCLUDE`] when every key with `=` terms
/// has one that matches it, nothing otherwise (with `=` terms, a container
/// without an entry is not traced; with `!=` terms alone, it is).
pub fn verdict(terms: &[WorkloadTerm], m: &ContainerMeta) -> Option<u8> {
    if terms.iter().any(|t| t.exclude && t.matches(m)) {
        return Some(TERM_EXCLUDE);
    }
    let includes: Vec<&WorkloadTerm> = terms.iter().filter(|t| !t.exclude).collect();
    if includes.is_empty() {
        return None;
    }
    // Each key with `=` terms needs one of them to match.
    let admitted = includes
        .iter()
        .all(|t| includes.iter().any(|o| o.key == t.key && o.matches(m)));
    admitted.then_some(TERM_INCLUDE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Pod;

    fn term(key: &str, glob: &str, exclude: bool) -> WorkloadTerm {
        WorkloadTerm {
            key: WorkloadKey::of(key).expect("a workload key"),
            glob: glob.into(),
            exclude,
        }
    }

    fn container(name: &str, image: &str, pod: Option<(&str, &str)>) -> ContainerMeta {
        ContainerMeta {
            name: name.into(),
            image_name: Some(image.into()),
            pod: pod.map(|(namespace, name)| Pod {
                name: name.into(),
                namespace: namespace.into(),
                ..Pod::default()
            }),
            ..ContainerMeta::default()
        }
    }

    #[test]
    fn different_keys_and_the_same_key_or() {
        let terms = [
            term("k8s.namespace", "shop", false),
            term("container.name", "app", false),
            term("container.name", "web*", false),
        ];
        let v = |m: &ContainerMeta| verdict(&terms, m);
        assert_eq!(
            v(&container("app", "i", Some(("shop", "p")))),
            Some(TERM_INCLUDE)
        );
        assert_eq!(
            v(&container("web-1", "i", Some(("shop", "p")))),
            Some(TERM_INCLUDE)
        );
        assert_eq!(v(&container("db", "i", Some(("shop", "p")))), None, "name");
        assert_eq!(
            v(&container("app", "i", Some(("bank", "p")))),
            None,
            "namespace"
        );
        assert_eq!(v(&container("app", "i", None)), None, "in no pod");
    }

    #[test]
    fn exclusions_win_and_alone_admit_the_rest() {
        let terms = [
            term("container.image", "org/*", false),
            term("k8s.pod", "debug-*", true),
        ];
        assert_eq!(
            verdict(&terms, &container("a", "org/app", Some(("ns", "debug-1")))),
            Some(TERM_EXCLUDE)
        );
        assert_eq!(
            verdict(&terms, &container("a", "org/app", Some(("ns", "web-1")))),
            Some(TERM_INCLUDE)
        );
        let only = [term("container.name", "noisy", true)];
        assert_eq!(
            verdict(&only, &container("noisy", "i", None)),
            Some(TERM_EXCLUDE)
        );
        assert_eq!(verdict(&only, &container("quiet", "i", None)), None);
        assert_eq!(WorkloadKey::of("k8s.node"), None);
    }
}
