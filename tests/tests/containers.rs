//! Containers: which one a process runs in, from its cgroup.

use std::{collections::HashMap, time::Duration};

use sysotel_tests::{
    Cgroup, Sysotel, Waiting, json_events,
    kafka::{Tansu, consume},
    require_root,
    rotel::{Record, Rotel},
};

const WORKLOAD: &str = env!("CARGO_BIN_EXE_workload");
const N: u64 = 200;

/// Two containers' cgroups created back to back, each with a process in it,
/// while sysotel runs: every record of each carries its own container's id.
/// (Resolving by walking the cgroup tree once per second left the second
/// one, created within that second, without an id for its whole life.)
#[test]
fn containers_started_back_to_back_are_each_attributed() {
    require_root();
    let top = sysotel_tests::cgroup2_root().join(format!("sysotel-ctr-{}", std::process::id()));
    let ids = [
        format!("{:0>64x}", 0x5e50_7e1a_u64),
        format!("{:0>64x}", 0x5e50_7e1b_u64),
    ];
    let parent = Cgroup::create(top.clone());
    let docker = Cgroup::create(top.join("docker"));
    let sysotel = Sysotel::getppid_json(
        &[&format!(
            "cgroup=/{}",
            top.file_name().and_then(|n| n.to_str()).expect("name")
        )],
        &[],
    );
    let mut pids = HashMap::new();
    let mut cgroups = Vec::new();
    for id in &ids {
        let cgroup = Cgroup::create(docker.0.join(id));
        let w = Waiting::start(WORKLOAD, &[], &[], "getppid", N);
        cgroup.enter(w.pid());
        let pid = w.pid() as u64;
        pids.insert(pid, id.clone());
        w.release();
        cgroups.push(cgroup);
        // Read by sysotel (its cgroup looked up) before the next is created.
        sysotel_tests::wait_for("the workload's records", Duration::from_secs(10), || {
            let n = json_events(&sysotel.stdout_so_far())
                .iter()
                .filter(|e| e["pid"] == pid)
                .count() as u64;
            (n == N).then_some(())
        });
    }
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let mut seen: HashMap<u64, u64> = HashMap::new();
    for e in json_events(&stopped.stdout) {
        let pid = e["pid"].as_u64().expect("pid");
        let Some(id) = pids.get(&pid) else { continue };
        assert_eq!(
            e["container"]["id"].as_str(),
            Some(id.as_str()),
            "a record of the process in container {id}: {e}"
        );
        *seen.entry(pid).or_default() += 1;
    }
    for pid in pids.keys() {
        assert_eq!(seen.get(pid), Some(&N), "getppid records of pid {pid}");
    }
    drop(cgroups);
    drop(docker);
    drop(parent);
}

/// The test image's id, as Docker gives it (`sha256:…`).
fn test_image_id() -> String {
    let id = sysotel_tests::docker(&[
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        sysotel_tests::TEST_IMAGE,
    ]);
    id.trim().to_string()
}

/// The engine a test runs its containers with: Docker's CLI, or Podman's
/// against its Docker-compatible service.
#[derive(Clone, Copy)]
enum Engine {
    Docker,
    Podman,
}

impl Engine {
    fn cli(self, args: &[&str]) -> String {
        match self {
            Engine::Docker => sysotel_tests::docker(args),
            Engine::Podman => sysotel_tests::podman(args),
        }
    }

    fn image(self) -> &'static str {
        match self {
            Engine::Docker => sysotel_tests::TEST_IMAGE,
            Engine::Podman => sysotel_tests::PODMAN_TEST_IMAGE,
        }
    }
}

/// Waits for `ids` to exit (each must succeed), stops sysotel, removes
/// the containers; sysotel must have stopped cleanly.
fn finish(sysotel: Sysotel, ids: &[String]) -> sysotel_tests::Stopped {
    finish_on(Engine::Docker, sysotel, ids)
}

fn finish_on(engine: Engine, sysotel: Sysotel, ids: &[String]) -> sysotel_tests::Stopped {
    for id in ids {
        assert_eq!(engine.cli(&["wait", id]).trim(), "0", "container {id}");
    }
    let stopped = sysotel.stop();
    for id in ids {
        engine.cli(&["rm", id]);
    }
    assert!(stopped.status.success(), "{}", stopped.stderr);
    stopped
}

/// The file the containers open (it does not exist: every open fails).
const MARKER: &str = "/etc/sysotel-marker";

/// A shell script that opens [`MARKER`] `opens` times, two seconds after
/// it started.
fn marker_script(opens: usize) -> String {
    format!(
        "sleep 2; i=0; while [ $i -lt {opens} ]; do cat {MARKER}; i=$((i+1)); done 2>/dev/null; true"
    )
}

/// Starts (`docker run -d`) a container named `name` that opens [`MARKER`]
/// `opens` times two seconds after it started; its full id.
fn run_marker_container(name: &str, opens: usize) -> String {
    run_marker_on(Engine::Docker, name, opens)
}

fn run_marker_on(engine: Engine, name: &str, opens: usize) -> String {
    let script = marker_script(opens);
    engine
        .cli(&[
            "run",
            "-d",
            "--pull",
            "never",
            "--network",
            "none",
            "--name",
            name,
            engine.image(),
            "sh",
            "-c",
            &script,
        ])
        .trim()
        .to_string()
}

/// Two Docker containers started back to back (`docker run -d`, one right
/// after the other), each opening a file in a loop two seconds after it
/// started: every record of each (its hostname is its id's first 12
/// characters) carries its full id, and every open of the file its name,
/// image and runtime as Docker's inspect gives them — a container is
/// resolved within two seconds of its first record (the records before carry
/// the id alone).
#[test]
fn docker_containers_started_back_to_back() {
    require_root();
    sysotel_tests::require_docker();
    const OPENS: usize = 50;
    let sysotel = Sysotel::start(&["-o", "json", "-e", "openat", "--scope", "container"]);
    let names: Vec<String> = (0..2)
        .map(|i| format!("sysotel-test-{}-{i}", std::process::id()))
        .collect();
    let ids: Vec<String> = names
        .iter()
        .map(|name| run_marker_container(name, OPENS))
        .collect();
    let stopped = finish(sysotel, &ids);
    let image_id = test_image_id();
    let events = json_events(&stopped.stdout);
    for (id, name) in ids.iter().zip(&names) {
        assert_eq!(id.len(), 64, "a container id: {id}");
        let mine: Vec<_> = events
            .iter()
            .filter(|e| e["uts_name"] == id[..12])
            .collect();
        for e in &mine {
            assert_eq!(
                e["container"]["id"].as_str(),
                Some(id.as_str()),
                "a record of container {id}: {e}"
            );
        }
        let marker: Vec<_> = mine
            .iter()
            .filter(|e| e["args"]["filename"] == MARKER)
            .collect();
        assert_eq!(marker.len(), OPENS, "container {id}'s opens of the marker");
        for e in marker {
            let c = &e["container"];
            assert_eq!(c["name"], name.as_str(), "{e}");
            assert_eq!(c["image"]["name"], "sysotel-test/busybox", "{e}");
            assert_eq!(c["image"]["tags"], serde_json::json!(["1"]), "{e}");
            assert_eq!(c["image"]["id"], image_id.as_str(), "{e}");
            assert_eq!(c["runtime"], "docker", "{e}");
        }
    }
}

/// A named Docker container's opens, shipped to a real collector (rotel) as
/// OTLP and to a real broker (tansu) as Kafka `json` and `ecs` documents:
/// each carries the container's id, name, image and runtime, exactly.
#[test]
fn docker_identity_in_otlp_and_kafka() {
    require_root();
    sysotel_tests::require_docker();
    const OPENS: usize = 5;
    let rotel = Rotel::start();
    let tansu = Tansu::start();
    let topics = [
        ("json", format!("sysotel-ctr-json-{}", std::process::id())),
        ("ecs", format!("sysotel-ctr-ecs-{}", std::process::id())),
    ];
    let name = format!("sysotel-test-otlp-{}", std::process::id());
    let mut runs = Vec::new();
    for (encoding, topic) in &topics {
        let sysotel = Sysotel::start(&[
            "-e",
            "openat",
            "--scope",
            "container",
            "-o",
            "otlp",
            "--otlp-endpoint",
            &rotel.http_url(),
            "-o",
            "kafka",
            "--kafka-brokers",
            &tansu.brokers(),
            "--kafka-topic",
            topic,
            "--kafka-encoding",
            encoding,
        ]);
        let cname = format!("{name}-{encoding}");
        let id = run_marker_container(&cname, OPENS);
        let stopped = finish(sysotel, std::slice::from_ref(&id));
        let totals = sysotel_tests::assert_all_exported(&stopped, "kafka");
        runs.push((encoding, topic, cname, id, totals.exported));
    }
    let image_id = test_image_id();

    let is_marker_of = |r: &Record, id: &str| {
        r.attr("container.id") == Some(&format!("Str({id})")[..])
            && r.attr("sysotel.arg.filename") == Some(&format!("Str({MARKER})")[..])
    };
    for (encoding, topic, cname, id, exported) in &runs {
        // OTLP: every open of the marker, with the container's identity.
        let records =
            sysotel_tests::wait_for("the marker's OTLP records", Duration::from_secs(30), || {
                let r: Vec<Record> = rotel
                    .records()
                    .into_iter()
                    .filter(|r| is_marker_of(r, id))
                    .collect();
                (r.len() >= OPENS).then_some(r)
            });
        assert_eq!(records.len(), OPENS, "container {id}");
        for r in &records {
            for (k, v) in [
                ("container.name", format!("Str({cname})")),
                (
                    "container.image.name",
                    "Str(sysotel-test/busybox)".to_string(),
                ),
                ("container.image.tags", "Slice(Str(1))".to_string()),
                ("container.image.id", format!("Str({image_id})")),
                ("container.runtime.name", "Str(docker)".to_string()),
            ] {
                assert_eq!(r.attr(k), Some(v.as_str()), "OTLP {k} of {r:?}");
            }
        }
        // Kafka: every message of the run read back; the marker's opens.
        let messages = consume(&tansu.brokers(), topic, Duration::from_secs(20), |ms| {
            ms.len() as u64 >= *exported
        });
        let docs: Vec<serde_json::Value> = messages
            .iter()
            .map(|m| serde_json::from_slice(&m.payload).expect("a JSON document"))
            .collect();
        let marker: Vec<_> = match **encoding {
            "json" => docs
                .iter()
                .filter(|d| d["container.id"] == id.as_str() && d["sysotel.arg.filename"] == MARKER)
                .collect(),
            _ => docs
                .iter()
                .filter(|d| d["container"]["id"] == id.as_str() && d["file"]["path"] == MARKER)
                .collect(),
        };
        assert_eq!(marker.len(), OPENS, "{encoding}: container {id}'s opens");
        for d in marker {
            if **encoding == "json" {
                assert_eq!(d["container.name"], cname.as_str(), "{d}");
                assert_eq!(d["container.image.name"], "sysotel-test/busybox", "{d}");
                assert_eq!(d["container.image.tags"], serde_json::json!(["1"]), "{d}");
                assert_eq!(d["container.image.id"], image_id.as_str(), "{d}");
                assert_eq!(d["container.runtime.name"], "docker", "{d}");
            } else {
                let c = &d["container"];
                assert_eq!(c["name"], cname.as_str(), "{d}");
                assert_eq!(c["image"]["name"], "sysotel-test/busybox", "{d}");
                assert_eq!(c["image"]["tag"], serde_json::json!(["1"]), "{d}");
                assert_eq!(c["runtime"], "docker", "{d}");
            }
        }
    }
}

/// Two Docker containers, `…-keep-…` and `…-drop-…`, each opening
/// [`MARKER`] `opens` times, started after a sysotel tracing openat with
/// `args`: the run, the two ids and the two names.
fn keep_and_drop(
    tag: &str,
    args: &[&str],
    opens: usize,
) -> (sysotel_tests::Stopped, [String; 2], [String; 2]) {
    let names = [
        format!("sysotel-{tag}-keep-{}", std::process::id()),
        format!("sysotel-{tag}-drop-{}", std::process::id()),
    ];
    let mut all = vec!["-o", "json", "-e", "openat"];
    all.extend_from_slice(args);
    let sysotel = Sysotel::start(&all);
    let ids = [
        run_marker_container(&names[0], opens),
        run_marker_container(&names[1], opens),
    ];
    let stopped = finish(sysotel, &ids);
    (stopped, ids, names)
}

/// `--filter container.name=…` keeps the named container's records and
/// drops the other's (decided in user space, once the runtime answered).
#[test]
fn a_filter_names_a_container() {
    require_root();
    sysotel_tests::require_docker();
    const OPENS: usize = 5;
    let keep = format!("container.name=sysotel-test-keep-{}", std::process::id());
    let (run, ids, names) =
        keep_and_drop("test", &["--scope", "container", "--filter", &keep], OPENS);
    assert_eq!(
        marker_opens(&run, &ids[0]),
        OPENS,
        "the named container's opens"
    );
    assert_eq!(
        marker_opens(&run, &ids[1]),
        0,
        "the other container's opens"
    );
    assert!(
        json_events(&run.stdout)
            .iter()
            .all(|e| e["container"]["name"] == names[0].as_str()),
        "only the named container's records"
    );
}

/// A pod made through containerd's CRI API as kubelet makes one (a sandbox
/// with the pod's metadata and labels, then a container in it), started
/// after sysotel: the container's opens carry its id, name, image and
/// runtime and the pod's name, uid and namespace, exactly, in the console's
/// JSON lines, in OTLP (rotel) and in Kafka ECS documents (tansu).
#[test]
fn a_cri_pod_is_named_everywhere() {
    require_root();
    let cri = sysotel_tests::cri::require_cri();
    const OPENS: usize = 5;
    let rotel = Rotel::start();
    let tansu = Tansu::start();
    let topic = format!("sysotel-pod-ecs-{}", std::process::id());
    let sysotel = Sysotel::start(&[
        "-o",
        "json",
        "-e",
        "openat",
        "--scope",
        "container",
        "-o",
        "otlp",
        "--otlp-endpoint",
        &rotel.http_url(),
        "-o",
        "kafka",
        "--kafka-brokers",
        &tansu.brokers(),
        "--kafka-topic",
        &topic,
        "--kafka-encoding",
        "ecs",
    ]);
    let pod_name = format!("web-{}", std::process::id());
    let uid = format!("5e507e1a-0000-4000-8000-{:012x}", std::process::id());
    let pod = cri.run_pod(&pod_name, "shop", &uid);
    let id = pod.start_container("app", &["sh", "-c", &marker_script(OPENS)]);
    pod.wait_exited(&id, Duration::from_secs(30));
    let stopped = sysotel.stop();
    drop(pod);
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let totals = sysotel_tests::assert_all_exported(&stopped, "kafka");
    let image_id = cri.image_id(sysotel_tests::cri::IMAGE);
    let image = "docker.io/sysotel-test/busybox";

    // The console's JSON lines.
    let events = json_events(&stopped.stdout);
    let marker: Vec<_> = events
        .iter()
        .filter(|e| e["container"]["id"] == id.as_str() && e["args"]["filename"] == MARKER)
        .collect();
    assert_eq!(marker.len(), OPENS, "the pod's opens of the marker");
    for e in marker {
        let c = &e["container"];
        assert_eq!(c["name"], "app", "{e}");
        assert_eq!(c["image"]["name"], image, "{e}");
        assert_eq!(c["image"]["tags"], serde_json::json!(["1"]), "{e}");
        assert_eq!(c["image"]["id"], image_id.as_str(), "{e}");
        assert_eq!(c["runtime"], "containerd", "{e}");
        assert_eq!(
            e["k8s"],
            serde_json::json!({
                "namespace": "shop",
                "pod": {"name": pod_name, "uid": uid},
                "container": {"name": "app"},
            }),
            "{e}"
        );
    }

    // OTLP.
    let records =
        sysotel_tests::wait_for("the pod's OTLP records", Duration::from_secs(30), || {
            let r: Vec<Record> = rotel
                .records()
                .into_iter()
                .filter(|r| {
                    r.attr("container.id") == Some(&format!("Str({id})")[..])
                        && r.attr("sysotel.arg.filename") == Some(&format!("Str({MARKER})")[..])
                })
                .collect();
            (r.len() >= OPENS).then_some(r)
        });
    assert_eq!(records.len(), OPENS, "the pod's OTLP records");
    for r in &records {
        for (k, v) in [
            ("container.name", "Str(app)".to_string()),
            ("container.image.name", format!("Str({image})")),
            ("container.image.tags", "Slice(Str(1))".to_string()),
            ("container.image.id", format!("Str({image_id})")),
            ("container.runtime.name", "Str(containerd)".to_string()),
            ("k8s.pod.name", format!("Str({pod_name})")),
            ("k8s.pod.uid", format!("Str({uid})")),
            ("k8s.namespace.name", "Str(shop)".to_string()),
            ("k8s.container.name", "Str(app)".to_string()),
        ] {
            assert_eq!(r.attr(k), Some(v.as_str()), "OTLP {k} of {r:?}");
        }
    }

    // Kafka, ECS.
    let messages = consume(&tansu.brokers(), &topic, Duration::from_secs(20), |ms| {
        ms.len() as u64 >= totals.exported
    });
    let docs: Vec<serde_json::Value> = messages
        .iter()
        .map(|m| serde_json::from_slice(&m.payload).expect("a JSON document"))
        .collect();
    let marker: Vec<_> = docs
        .iter()
        .filter(|d| d["container"]["id"] == id.as_str() && d["file"]["path"] == MARKER)
        .collect();
    assert_eq!(marker.len(), OPENS, "ECS: the pod's opens");
    for d in marker {
        assert_eq!(d["container"]["name"], "app", "{d}");
        assert_eq!(d["container"]["image"]["name"], image, "{d}");
        assert_eq!(d["container"]["runtime"], "containerd", "{d}");
        assert_eq!(
            d["orchestrator"],
            serde_json::json!({
                "type": "kubernetes",
                "namespace": "shop",
                "resource": {"type": "pod", "name": pod_name, "id": uid},
            }),
            "{d}"
        );
    }
}

/// `--scope container.name=…`, decided in the kernel on the cgroups of the
/// containers the runtime names so: of two Docker containers started after
/// sysotel, only the named one's processes are traced at all.
#[test]
fn a_scope_names_a_docker_container() {
    require_root();
    sysotel_tests::require_docker();
    const OPENS: usize = 5;
    let keep = format!("container.name=sysotel-scope-keep-{}", std::process::id());
    let (run, ids, _) = keep_and_drop("scope", &["--scope", &keep], OPENS);
    assert_eq!(
        marker_opens(&run, &ids[0]),
        OPENS,
        "the named container's opens"
    );
    assert_eq!(
        marker_opens(&run, &ids[1]),
        0,
        "the other container's opens"
    );
    let events = json_events(&run.stdout);
    assert!(!events.is_empty());
    for e in &events {
        assert_eq!(
            e["container"]["id"],
            ids[0].as_str(),
            "only the named container's processes are traced: {e}"
        );
    }
}

/// Two pods made through the CRI API, `web-…` in namespace `shop` and
/// `web-…` in `bank`, each with a container `app` that opens [`MARKER`]
/// `opens` times, started after a sysotel tracing openat in `scope`: its
/// run, and the two containers' ids (shop's, bank's).
fn two_pods_under(
    cri: &sysotel_tests::cri::Cri,
    scope: &[&str],
    opens: usize,
) -> (sysotel_tests::Stopped, String, String) {
    let mut args = vec!["-o", "json", "-e", "openat"];
    for t in scope {
        args.extend(["--scope", t]);
    }
    let sysotel = Sysotel::start(&args);
    let pod_name = format!("web-{}", std::process::id());
    let uid = |n: u32| format!("5e507e1a-{n:04x}-4000-8000-{:012x}", std::process::id());
    let shop = cri.run_pod(&pod_name, "shop", &uid(1));
    let bank = cri.run_pod(&pod_name, "bank", &uid(2));
    let script = marker_script(opens);
    let in_shop = shop.start_container("app", &["sh", "-c", &script]);
    let in_bank = bank.start_container("app", &["sh", "-c", &script]);
    shop.wait_exited(&in_shop, Duration::from_secs(30));
    bank.wait_exited(&in_bank, Duration::from_secs(30));
    let stopped = sysotel.stop();
    drop((shop, bank));
    assert!(stopped.status.success(), "{}", stopped.stderr);
    (stopped, in_shop, in_bank)
}

/// The opens of [`MARKER`] by container `id` in a run's JSON lines.
fn marker_opens(stopped: &sysotel_tests::Stopped, id: &str) -> usize {
    json_events(&stopped.stdout)
        .iter()
        .filter(|e| e["container"]["id"] == id && e["args"]["filename"] == MARKER)
        .count()
}

/// Pods by namespace and name, decided in the kernel: `--scope
/// k8s.namespace=shop --scope k8s.pod=web-*` traces only the shop pod's
/// container, and `--scope container --scope k8s.namespace!=bank` every
/// container but the bank pod's, from its marker opens on (a container is
/// admitted or excluded within a second of its start: its first records may
/// precede an exclusion).
#[test]
fn a_scope_names_a_namespace_and_a_pod() {
    require_root();
    let cri = sysotel_tests::cri::require_cri();
    const OPENS: usize = 5;
    let (run, in_shop, in_bank) =
        two_pods_under(&cri, &["k8s.namespace=shop", "k8s.pod=web-*"], OPENS);
    assert_eq!(
        marker_opens(&run, &in_shop),
        OPENS,
        "shop's opens, included"
    );
    assert_eq!(
        marker_opens(&run, &in_bank),
        0,
        "bank's opens, not included"
    );
    for e in json_events(&run.stdout) {
        assert_eq!(
            e["container"]["id"],
            in_shop.as_str(),
            "only the shop pod's processes are traced: {e}"
        );
    }
    let (run, in_shop, in_bank) =
        two_pods_under(&cri, &["container", "k8s.namespace!=bank"], OPENS);
    assert_eq!(
        marker_opens(&run, &in_shop),
        OPENS,
        "shop's opens, not excluded"
    );
    assert_eq!(marker_opens(&run, &in_bank), 0, "bank's opens, excluded");
}

/// A workload term with no runtime to ask is a usage error naming it.
#[test]
fn a_workload_scope_needs_a_runtime() {
    require_root();
    let e = sysotel_tests::usage_error(
        &["--scope", "k8s.pod=web-*", "--container-runtime", "none"],
        &[],
    );
    assert!(
        e.contains("--scope k8s.pod=web-*") && e.contains("needs a container runtime"),
        "{e}"
    );
}

/// A Podman container, asked about through Podman's Docker-compatible
/// service: its opens carry its id, name, image (as Podman names it), image
/// id and `container.runtime.name` podman.
#[test]
fn a_podman_container_is_named() {
    require_root();
    sysotel_tests::require_podman();
    const OPENS: usize = 5;
    let name = format!("sysotel-test-podman-{}", std::process::id());
    let sysotel = Sysotel::start(&[
        "-o",
        "json",
        "-e",
        "openat",
        "--scope",
        "container",
        "--container-runtime",
        &format!("docker={}", sysotel_tests::PODMAN_SOCKET),
    ]);
    let id = run_marker_on(Engine::Podman, &name, OPENS);
    let stopped = finish_on(Engine::Podman, sysotel, std::slice::from_ref(&id));
    let image_id = sysotel_tests::podman(&[
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        sysotel_tests::PODMAN_TEST_IMAGE,
    ]);
    let events = json_events(&stopped.stdout);
    let marker: Vec<_> = events
        .iter()
        .filter(|e| e["container"]["id"] == id.as_str() && e["args"]["filename"] == MARKER)
        .collect();
    assert_eq!(marker.len(), OPENS, "the container's opens of the marker");
    for e in marker {
        let c = &e["container"];
        assert_eq!(c["name"], name.as_str(), "{e}");
        assert_eq!(c["image"]["name"], "localhost/sysotel-test/busybox", "{e}");
        assert_eq!(c["image"]["tags"], serde_json::json!(["1"]), "{e}");
        assert_eq!(
            c["image"]["id"]
                .as_str()
                .map(|i| i.trim_start_matches("sha256:")),
            Some(image_id.trim()),
            "{e}"
        );
        assert_eq!(c["runtime"], "podman", "{e}");
    }
}
