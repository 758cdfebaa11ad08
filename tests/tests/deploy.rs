//! The Kubernetes deployment: the manifests validate against a current
//! Kubernetes schema (kubernetes-validate, strict), a manifest with a field
//! Kubernetes does not know fails that check, and the ConfigMap's
//! sysotel.toml is a configuration sysotel accepts.

use std::process::Command;

const MANIFEST: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../deploy/kubernetes/sysotel.yaml"
);

fn validator() -> String {
    sysotel_tests::python_path(
        "import sysconfig, os; print(os.path.join(sysconfig.get_path('scripts'), 'kubernetes-validate'))",
        "kubernetes-validate",
    )
}

/// `kubernetes-validate --strict` on `path`: its success and output.
fn validate(path: &str) -> (bool, String) {
    let out = Command::new(validator())
        .args(["--strict", path])
        .output()
        .expect("run kubernetes-validate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_manifests_validate_strictly() {
    let (ok, out) = validate(MANIFEST);
    assert!(ok, "{out}");
    for kind in ["namespace", "serviceaccount", "configmap", "daemonset"] {
        assert!(
            out.contains(&format!("passed for resource {kind}/sysotel")),
            "{kind} was not validated:\n{out}"
        );
    }
    // The check can fail: a field the DaemonSet's container does not have.
    let text = std::fs::read_to_string(MANIFEST).expect("the manifest");
    let bad = text.replacen(
        "          imagePullPolicy:",
        "          imagePullPolicyy:",
        1,
    );
    assert_ne!(bad, text);
    let path = sysotel_tests::unique_path("bad-manifest.yaml");
    std::fs::write(&path, bad).expect("write");
    let (ok, out) = validate(&path);
    let _ = std::fs::remove_file(&path);
    assert!(!ok, "an unknown field passed:\n{out}");
}

#[test]
fn the_configmap_holds_a_valid_configuration() {
    let text = std::fs::read_to_string(MANIFEST).expect("the manifest");
    let toml = text
        .split("\n---\n")
        .filter_map(|doc| {
            let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(doc).expect("a YAML document");
            (v["kind"].as_str() == Some("ConfigMap"))
                .then(|| v["data"]["sysotel.toml"].as_str().map(str::to_string))
                .flatten()
        })
        .next()
        .expect("a ConfigMap with sysotel.toml");
    let path = sysotel_tests::unique_path("configmap.toml");
    std::fs::write(&path, toml).expect("write");
    let out = sysotel_tests::run_sysotel(&["config", "check", &path], &[]);
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "sysotel config check refused the ConfigMap's file: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
