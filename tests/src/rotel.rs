//! rotel, a real OpenTelemetry collector (installed from PyPI by
//! scripts/peers.sh), as the receiving end of the OTLP tests. Its `--debug-log
//! logs --debug-log-verbosity detailed` output is parsed back into records.

use std::{
    collections::HashMap,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The rotel-agent binary: `$ROTEL_AGENT`, or the one in the pip package.
pub fn rotel_agent() -> String {
    if let Ok(p) = std::env::var("ROTEL_AGENT") {
        return p;
    }
    crate::python_path(
        "import rotel, os; print(os.path.join(os.path.dirname(rotel.__file__), 'rotel-agent'))",
        "rotel",
    )
}

/// A TCP port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One log record as rotel printed it; attribute values keep rotel's
/// `Type(value)` form (`Int(42)`, `Str(x)`).
#[derive(Clone, Debug, Default)]
pub struct Record {
    pub timestamp: u64,
    pub observed: u64,
    pub severity_text: String,
    pub severity_number: String,
    pub event_name: String,
    pub body: String,
    pub attributes: HashMap<String, String>,
    pub resource: HashMap<String, String>,
    /// `InstrumentationScope NAME VERSION`, as rotel prints it.
    pub scope: String,
}

impl Record {
    pub fn attr(&self, k: &str) -> Option<&str> {
        self.attributes.get(k).map(String::as_str)
    }
}

pub struct Rotel {
    child: Child,
    out_path: String,
    pub grpc_port: u16,
    pub http_port: u16,
}

impl Rotel {
    /// Starts rotel on fresh ports and waits until both receivers listen.
    pub fn start() -> Rotel {
        Rotel::start_on(free_port(), free_port())
    }

    pub fn start_on(grpc_port: u16, http_port: u16) -> Rotel {
        Rotel::start_printing(grpc_port, http_port, "logs")
    }

    /// Starts rotel on fresh ports printing what it receives of `kind`
    /// (`logs` or `metrics`).
    pub fn start_for(kind: &str) -> Rotel {
        Rotel::start_printing(free_port(), free_port(), kind)
    }

    fn start_printing(grpc_port: u16, http_port: u16, kind: &str) -> Rotel {
        let out_path = crate::unique_path("rotel");
        let out = std::fs::File::create(&out_path).expect("rotel output file");
        let err = out.try_clone().expect("dup");
        let child = Command::new(rotel_agent())
            .args([
                "start",
                "--otlp-grpc-endpoint",
                &format!("127.0.0.1:{grpc_port}"),
                "--otlp-http-endpoint",
                &format!("127.0.0.1:{http_port}"),
                "--exporter",
                "blackhole",
                "--debug-log",
                kind,
                "--debug-log-verbosity",
                "detailed",
            ])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn rotel-agent");
        let r = Rotel {
            child,
            out_path,
            grpc_port,
            http_port,
        };
        crate::wait_listening(grpc_port, "rotel's gRPC receiver");
        crate::wait_listening(http_port, "rotel's HTTP receiver");
        r
    }

    pub fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.out_path)
            .unwrap_or_else(|e| panic!("reading rotel's output {}: {e}", self.out_path))
    }

    /// Every record received so far. A line still being written (or cut by
    /// a kill) is left out: only what ends in a newline is rotel's output.
    pub fn records(&self) -> Vec<Record> {
        let out = self.output();
        let whole = out.rfind('\n').map_or("", |end| &out[..=end]);
        parse(whole)
    }

    /// Waits (up to 30 s) until rotel has printed at least `n` records, then
    /// a moment longer so that any beyond `n` show too; returns them all.
    pub fn wait_records(&self, n: u64) -> Vec<Record> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.records().len() as u64;
            if got >= n {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "rotel received {got} records in 30 s; sysotel exported {n}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(300));
        self.records()
    }

    /// Every metric data point received so far, in order.
    pub fn metric_points(&self) -> Vec<Point> {
        parse_metrics(&self.output())
    }

    /// Stops rotel as an operator would (SIGTERM): it finishes writing
    /// what it acknowledged, then exits (SIGKILL after 10 s). A SIGKILL
    /// loses what rotel acknowledged and had not written yet: its loss,
    /// not the sender's.
    pub fn stop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
    }

    /// Stops rotel at once (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Rotel {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.out_path);
    }
}

fn kv(line: &str) -> Option<(String, String)> {
    let rest = line.trim_start().strip_prefix("-> ")?;
    let (k, v) = rest.split_once(": ")?;
    Some((k.to_string(), v.to_string()))
}

/// rotel's detailed log dump -> records, each with its resource's attributes.
pub fn parse(out: &str) -> Vec<Record> {
    let mut records = Vec::new();
    let mut resource: HashMap<String, String> = HashMap::new();
    let mut cur: Option<Record> = None;
    let mut in_resource = false;
    let mut scope = String::new();
    for line in out.lines() {
        if line.starts_with("ResourceLog #") {
            records.extend(cur.take());
            resource.clear();
            in_resource = false;
        } else if line.starts_with("Resource attributes:") {
            in_resource = true;
        } else if line.starts_with("ScopeLogs #") {
            in_resource = false;
            scope.clear();
        } else if let Some(s) = line.strip_prefix("InstrumentationScope ") {
            scope = s.trim().to_string();
        } else if line.starts_with("LogRecord #") {
            records.extend(cur.take());
            cur = Some(Record {
                resource: resource.clone(),
                scope: scope.clone(),
                ..Default::default()
            });
        } else if in_resource {
            if let Some((k, v)) = kv(line) {
                resource.insert(k, v);
            }
        } else if let Some(r) = cur.as_mut() {
            let ns = |v: &str| -> u64 {
                v.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("rotel printed a timestamp that is not ns: {line}"))
            };
            if let Some(v) = line.strip_prefix("Timestamp: ") {
                r.timestamp = ns(v);
            } else if let Some(v) = line.strip_prefix("ObservedTimestamp: ") {
                r.observed = ns(v);
            } else if let Some(v) = line.strip_prefix("SeverityText: ") {
                r.severity_text = v.to_string();
            } else if let Some(v) = line.strip_prefix("SeverityNumber: ") {
                r.severity_number = v.to_string();
            } else if let Some(v) = line.strip_prefix("EventName: ") {
                r.event_name = v.to_string();
            } else if let Some(v) = line.strip_prefix("Body: ") {
                r.body = v.to_string();
            } else if let Some((k, v)) = kv(line) {
                r.attributes.insert(k, v);
            }
        }
    }
    records.extend(cur);
    records
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, made
/// with the openssl command in a fresh directory.
pub struct TestPki {
    pub dir: String,
}

impl TestPki {
    pub fn new() -> TestPki {
        let dir = crate::unique_path("pki");
        std::fs::create_dir_all(&dir).expect("pki dir");
        let leaf_ext = format!("{dir}/leaf.ext");
        std::fs::write(
            &leaf_ext,
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .expect("ext file");
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .output()
                .expect("openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=sysotel test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        for name in ["server", "client"] {
            run(&[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}"),
            ]);
            run(&[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{name}.pem"),
                "-days",
                "2",
                "-extfile",
                "leaf.ext",
            ]);
        }
        TestPki { dir }
    }

    pub fn path(&self, file: &str) -> String {
        format!("{}/{file}", self.dir)
    }
}

impl Default for TestPki {
    fn default() -> Self {
        TestPki::new()
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// socat terminating TLS (and requiring a client certificate signed by the
/// test CA) in front of a plaintext port.
pub struct TlsProxy {
    child: Child,
    pub port: u16,
}

impl TlsProxy {
    pub fn start(pki: &TestPki, backend_port: u16) -> TlsProxy {
        let port = free_port();
        let listen = format!(
            "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={},key={},cafile={},verify=1",
            pki.path("server.pem"),
            pki.path("server.key"),
            pki.path("ca.pem")
        );
        let child = Command::new("socat")
            .args([listen, format!("TCP:127.0.0.1:{backend_port}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn socat (scripts/peers.sh installs it)");
        crate::wait_listening(port, "socat");
        TlsProxy { child, port }
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One metric data point as rotel printed it.
#[derive(Clone, Debug, Default)]
pub struct Point {
    pub metric: String,
    pub attributes: HashMap<String, String>,
    pub value: String,
}

/// rotel's detailed metrics dump -> data points (`Metric #`, `-> Name:`,
/// `NumberDataPoints #`, `Data point attributes:`, `Value:`).
pub fn parse_metrics(out: &str) -> Vec<Point> {
    let mut points = Vec::new();
    let mut metric = String::new();
    let mut cur: Option<Point> = None;
    let mut in_point_attrs = false;
    for line in out.lines() {
        if line.starts_with("Metric #") || line.starts_with("ResourceMetrics #") {
            points.extend(cur.take());
            in_point_attrs = false;
        } else if let Some(name) = line.trim_start().strip_prefix("-> Name: ") {
            metric = name.to_string();
        } else if line.starts_with("NumberDataPoints #") {
            points.extend(cur.take());
            cur = Some(Point {
                metric: metric.clone(),
                ..Default::default()
            });
            in_point_attrs = false;
        } else if line.starts_with("Data point attributes:") {
            in_point_attrs = true;
        } else if let Some(p) = cur.as_mut() {
            if let Some(v) = line.strip_prefix("Value: ") {
                p.value = v.trim().to_string();
                in_point_attrs = false;
            } else if in_point_attrs && let Some((k, v)) = kv(line) {
                p.attributes.insert(k, v);
            }
        }
    }
    points.extend(cur);
    points
}
