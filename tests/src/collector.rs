//! A collector that refuses: an HTTP/1.1 server on loopback that records
//! every request's headers and answers each with one status. Answering 401
//! with the request's header values in the body, it is the collector that
//! rejects a token and quotes it back, as some do.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    sync::{Arc, Mutex},
    thread,
};

/// One request as received: header names in lower case.
pub type Headers = HashMap<String, String>;

pub struct RefusingCollector {
    pub port: u16,
    requests: Arc<Mutex<Vec<Headers>>>,
}

impl RefusingCollector {
    /// Listens on a fresh port and answers every request with `status`,
    /// its body quoting the request's header values.
    pub fn start(status: u16) -> RefusingCollector {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the collector");
        let port = listener.local_addr().expect("its address").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let seen = seen.clone();
                thread::spawn(move || serve(conn, status, &seen));
            }
        });
        RefusingCollector { port, requests }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The headers of every request so far.
    pub fn requests(&self) -> Vec<Headers> {
        self.requests.lock().unwrap().clone()
    }
}

/// Answers the requests of one keep-alive connection until it closes.
fn serve(conn: TcpStream, status: u16, seen: &Mutex<Vec<Headers>>) {
    let mut out = conn.try_clone().expect("dup the connection");
    let mut reader = BufReader::new(conn);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Headers::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let quoted: Vec<String> = headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        seen.lock().unwrap().push(headers);
        let answer = format!("refused; you sent {}", quoted.join("; "));
        let reply = format!(
            "HTTP/1.1 {status} Refused\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if out.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}
