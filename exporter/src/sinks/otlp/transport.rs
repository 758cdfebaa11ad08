//! Sending one `ExportLogsServiceRequest`: OTLP/gRPC (tonic) or OTLP/HTTP
//! (protobuf or JSON body), and what the answer means for retrying.

use std::{io::Write, sync::OnceLock, time::Duration};

use bytes::{BufMut, Bytes};
use flate2::{Compression, write::GzEncoder};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use prost::Message;
use thiserror::Error;
use tonic::{
    Code,
    codec::CompressionEncoding,
    codegen::http::uri::PathAndQuery,
    metadata::{MetadataKey, MetadataValue},
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity},
};
use tonic_types::StatusExt;

use super::config::{OtlpConfig, Protocol};

/// Why a request failed, and whether trying again may help.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{kind}: {message}")]
pub struct SendError {
    pub retryable: bool,
    /// How long the server asked us to wait (Retry-After, RetryInfo).
    pub retry_after: Option<Duration>,
    /// A short class of failure, logged once per kind (`HTTP 400`, `UNAVAILABLE`).
    pub kind: String,
    pub message: String,
}

/// The gRPC method every OTLP log export calls.
const EXPORT_PATH: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

/// A tonic codec that sends already-encoded `ExportLogsServiceRequest` bytes
/// as they are, and decodes the response with prost.
#[derive(Clone, Copy, Default)]
struct RawCodec;

struct RawEncoder;
struct ResponseDecoder;

impl tonic::codec::Encoder for RawEncoder {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        dst.put(item);
        Ok(())
    }
}

impl tonic::codec::Decoder for ResponseDecoder {
    type Item = ExportLogsServiceResponse;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Self::Item>, tonic::Status> {
        ExportLogsServiceResponse::decode(src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(format!("bad ExportLogsServiceResponse: {e}")))
    }
}

impl tonic::codec::Codec for RawCodec {
    type Encode = Bytes;
    type Decode = ExportLogsServiceResponse;
    type Encoder = RawEncoder;
    type Decoder = ResponseDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> ResponseDecoder {
        ResponseDecoder
    }
}

/// gRPC request metadata, sent with every request.
type GrpcHeaders = Vec<(
    MetadataKey<tonic::metadata::Ascii>,
    MetadataValue<tonic::metadata::Ascii>,
)>;

/// What the transport needs set up once: a lazily connecting client. No
/// connection is made until the first request, so a collector that is down
/// at start-up is not an error.
pub enum Transport {
    Grpc(Box<GrpcTransport>),
    Http(HttpTransport),
}

pub struct GrpcTransport {
    /// Made on the first request, on the runtime that sends it: the channel's
    /// connection and buffer tasks run where they are made, and a channel made
    /// on another runtime (the reader's) left every request after the first
    /// without its answer.
    client: OnceLock<tonic::client::Grpc<Channel>>,
    endpoint: Endpoint,
    gzip: bool,
    headers: GrpcHeaders,
}

pub struct HttpTransport {
    client: reqwest::Client,
    url: reqwest::Url,
    json: bool,
    gzip: bool,
    headers: reqwest::header::HeaderMap,
}

/// Setting up a transport failed (bad certificate, bad header).
#[derive(Debug, Error)]
#[error("{setting}: {message}")]
pub struct SetupError {
    pub setting: String,
    pub message: String,
}

fn setup_err(setting: &str, message: impl ToString) -> SetupError {
    SetupError {
        setting: setting.to_string(),
        message: message.to_string(),
    }
}

fn read(path: &std::path::Path, setting: &str) -> Result<Vec<u8>, SetupError> {
    std::fs::read(path).map_err(|e| setup_err(setting, format!("{}: {e}", path.display())))
}

fn header_err(k: &str, e: impl std::fmt::Display) -> SetupError {
    setup_err("OTLP headers", format!("{k}: {e}"))
}

impl Transport {
    pub fn new(cfg: &OtlpConfig) -> Result<Transport, SetupError> {
        Ok(match cfg.protocol {
            Protocol::Grpc => Transport::Grpc(Box::new(GrpcTransport::new(cfg)?)),
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                Transport::Http(HttpTransport::new(cfg)?)
            }
        })
    }

    /// Sends one encoded `ExportLogsServiceRequest`; on success, the records
    /// the server rejected (`partial_success.rejected_log_records`).
    pub async fn send(&self, req: &Request) -> Result<i64, SendError> {
        match (self, req) {
            (Transport::Grpc(t), Request::Proto(proto)) => t.send(proto).await,
            (Transport::Http(t), Request::Proto(proto)) => t.send_body(t.body(proto)?).await,
            (Transport::Http(t), Request::Gzipped(body)) if t.gzipped_protobuf() => {
                t.send_body(body.clone()).await
            }
            // `sendable` turned every request read from the disk into one
            // this transport sends.
            (_, Request::Gzipped(_)) => Err(SendError {
                retryable: false,
                retry_after: None,
                kind: "encoding".into(),
                message: "a gzipped request this transport does not send".into(),
            }),
        }
    }

    /// A request as the disk queue keeps it: for OTLP/HTTP protobuf with
    /// gzip, the body as it is sent (compressed once, when the batch
    /// closes; a backlog drains without compressing again); otherwise the
    /// protobuf request.
    pub fn stored(&self, proto: Bytes) -> Request {
        match self {
            Transport::Http(t) if t.gzipped_protobuf() => {
                Request::Gzipped(gzip_bytes(&proto).into())
            }
            _ => Request::Proto(proto),
        }
    }

    /// A request read from the disk queue, as this transport sends it: one
    /// gzipped by a run with other settings is decompressed here, once, not
    /// at every attempt. None when it does not decompress.
    pub fn sendable(&self, req: Request) -> Option<Request> {
        match (self, req) {
            (Transport::Http(t), req) if t.gzipped_protobuf() => Some(req),
            (_, Request::Gzipped(body)) => gunzip(&body).map(|p| Request::Proto(p.into())),
            (_, req) => Some(req),
        }
    }
}

/// An encoded `ExportLogsServiceRequest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Proto(Bytes),
    /// The protobuf request, gzipped.
    Gzipped(Bytes),
}

impl Request {
    pub fn len(&self) -> usize {
        match self {
            Request::Proto(b) | Request::Gzipped(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Its bytes in a disk queue frame: a tag, then the bytes.
    pub fn to_frame(&self) -> Vec<u8> {
        let (tag, b) = match self {
            Request::Proto(b) => (0u8, b),
            Request::Gzipped(b) => (1u8, b),
        };
        let mut out = Vec::with_capacity(1 + b.len());
        out.push(tag);
        out.extend_from_slice(b);
        out
    }

    /// What [`Request::to_frame`] wrote.
    pub fn from_frame(payload: Vec<u8>) -> Option<Request> {
        let tag = *payload.first()?;
        let body = Bytes::from(payload).slice(1..);
        match tag {
            0 => Some(Request::Proto(body)),
            1 => Some(Request::Gzipped(body)),
            _ => None,
        }
    }
}

fn gunzip(body: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read as _;
    let mut out = Vec::with_capacity(body.len() * 4);
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

impl GrpcTransport {
    fn new(cfg: &OtlpConfig) -> Result<GrpcTransport, SetupError> {
        let mut endpoint = Endpoint::from_shared(cfg.endpoint.clone())
            .map_err(|e| setup_err("--otlp-endpoint", e))?
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout);
        if cfg.endpoint.starts_with("https://") {
            let mut tls = ClientTlsConfig::new().with_native_roots();
            if let Some(ca) = &cfg.ca_file {
                tls = tls.ca_certificate(Certificate::from_pem(read(ca, "--otlp-ca-file")?));
            }
            if let Some((cert, key)) = &cfg.client_identity {
                tls = tls.identity(Identity::from_pem(
                    read(cert, "--otlp-client-cert")?,
                    read(key, "--otlp-client-key")?,
                ));
            }
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| setup_err("--otlp-ca-file", e))?;
        }
        let headers = cfg
            .headers
            .iter()
            .map(|(k, v)| {
                let key = MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
                    .map_err(|e| header_err(k, e))?;
                let value = v.parse().map_err(|e| header_err(k, e))?;
                Ok((key, value))
            })
            .collect::<Result<_, SetupError>>()?;
        Ok(GrpcTransport {
            client: OnceLock::new(),
            endpoint,
            gzip: cfg.gzip,
            headers,
        })
    }

    async fn send(&self, req: &Bytes) -> Result<i64, SendError> {
        let mut request = tonic::Request::new(req.clone());
        for (k, v) in &self.headers {
            request.metadata_mut().insert(k.clone(), v.clone());
        }
        let mut client = self
            .client
            .get_or_init(|| {
                let client = tonic::client::Grpc::new(self.endpoint.connect_lazy())
                    .max_decoding_message_size(16 << 20);
                if self.gzip {
                    client.send_compressed(CompressionEncoding::Gzip)
                } else {
                    client
                }
            })
            .clone();
        client.ready().await.map_err(|e| SendError {
            retryable: true,
            retry_after: None,
            kind: "connection".into(),
            message: e.to_string(),
        })?;
        let path = PathAndQuery::from_static(EXPORT_PATH);
        match client.unary(request, path, RawCodec).await {
            Ok(resp) => Ok(rejected(Some(resp.into_inner()))),
            Err(status) => Err(grpc_error(&status)),
        }
    }
}

impl HttpTransport {
    fn new(cfg: &OtlpConfig) -> Result<HttpTransport, SetupError> {
        let mut b = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout);
        if let Some(ca) = &cfg.ca_file {
            let pem = read(ca, "--otlp-ca-file")?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| setup_err("--otlp-ca-file", e))?;
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        if let Some((cert, key)) = &cfg.client_identity {
            let mut pem = read(cert, "--otlp-client-cert")?;
            pem.push(b'\n');
            pem.extend(read(key, "--otlp-client-key")?);
            b = b.identity(
                reqwest::Identity::from_pem(&pem)
                    .map_err(|e| setup_err("--otlp-client-cert", e))?,
            );
        }
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in &cfg.headers {
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| header_err(k, e))?;
            let value = reqwest::header::HeaderValue::from_str(v).map_err(|e| header_err(k, e))?;
            headers.insert(name, value);
        }
        Ok(HttpTransport {
            client: b.build().map_err(|e| setup_err("--otlp-endpoint", e))?,
            url: reqwest::Url::parse(&cfg.endpoint).map_err(|e| setup_err("--otlp-endpoint", e))?,
            json: cfg.protocol == Protocol::HttpJson,
            gzip: cfg.gzip,
            headers,
        })
    }

    /// The request body: protobuf, or OTLP/JSON (the protobuf message
    /// rendered by its serde mapping, the slower path), gzipped when asked.
    /// The protobuf request is sent as it is (a shared buffer, not a copy).
    fn body(&self, req: &Bytes) -> Result<Bytes, SendError> {
        if !self.json {
            return Ok(if self.gzip {
                gzip_bytes(req).into()
            } else {
                req.clone()
            });
        }
        let body = crate::otel::json::otlp_json(req.as_ref()).map_err(|message| SendError {
            retryable: false,
            retry_after: None,
            kind: "encoding".into(),
            message,
        })?;
        Ok(if self.gzip { gzip_bytes(&body) } else { body }.into())
    }

    /// Whether its body is the protobuf request, gzipped.
    fn gzipped_protobuf(&self) -> bool {
        !self.json && self.gzip
    }

    /// Sends a body [`HttpTransport::body`] made.
    async fn send_body(&self, body: Bytes) -> Result<i64, SendError> {
        let content_type = if self.json {
            "application/json"
        } else {
            "application/x-protobuf"
        };
        let mut r = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .header(reqwest::header::CONTENT_TYPE, content_type);
        if self.gzip {
            r = r.header(reqwest::header::CONTENT_ENCODING, "gzip");
        }
        let resp = r.body(body).send().await.map_err(|e| SendError {
            // Connection refused, reset, timeout: the collector may come back.
            retryable: true,
            retry_after: None,
            kind: if e.is_timeout() {
                "timeout"
            } else {
                "connection"
            }
            .into(),
            message: e.to_string(),
        })?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = resp.bytes().await.unwrap_or_default();
        if status.is_success() {
            let parsed = if self.json {
                serde_json::from_slice::<ExportLogsServiceResponse>(&bytes).ok()
            } else {
                ExportLogsServiceResponse::decode(bytes.as_ref()).ok()
            };
            return Ok(rejected(parsed));
        }
        // OTLP/HTTP: only these are worth retrying.
        let retryable = matches!(status.as_u16(), 429 | 502 | 503 | 504);
        Err(SendError {
            retryable,
            retry_after,
            kind: format!("HTTP {}", status.as_u16()),
            message: String::from_utf8_lossy(&bytes).chars().take(300).collect(),
        })
    }
}

fn rejected(resp: Option<ExportLogsServiceResponse>) -> i64 {
    resp.and_then(|r| r.partial_success)
        .map_or(0, |p| p.rejected_log_records.max(0))
}

fn gzip_bytes(body: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(body);
    enc.finish().unwrap_or_default()
}

/// The OTLP/gRPC retry rules: these codes are transient; RESOURCE_EXHAUSTED
/// only when the server says when to come back (RetryInfo). An UNKNOWN
/// status made on this side from a failed connection (the collector went
/// away mid-request: it carries the transport error as its source) is a
/// transport failure, not the server's answer, and is retried too.
fn grpc_error(status: &tonic::Status) -> SendError {
    let retry_after = status.get_details_retry_info().and_then(|r| r.retry_delay);
    let retryable = match status.code() {
        Code::Unknown => std::error::Error::source(status).is_some(),
        Code::Unavailable
        | Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::DataLoss => true,
        Code::ResourceExhausted => retry_after.is_some(),
        _ => false,
    };
    SendError {
        retryable,
        retry_after,
        kind: format!("{:?}", status.code()).to_uppercase(),
        message: status.message().chars().take(300).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_retry_rules() {
        assert!(grpc_error(&tonic::Status::unavailable("down")).retryable);
        assert!(!grpc_error(&tonic::Status::invalid_argument("bad")).retryable);
        assert!(!grpc_error(&tonic::Status::resource_exhausted("full")).retryable);
        // The server's UNKNOWN is its answer; a connection lost mid-request is not.
        assert!(!grpc_error(&tonic::Status::unknown("server says")).retryable);
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert!(grpc_error(&tonic::Status::from_error(Box::new(reset))).retryable);
        let with_info = tonic::Status::with_error_details(
            Code::ResourceExhausted,
            "full",
            tonic_types::ErrorDetails::with_retry_info(Some(Duration::from_secs(2))),
        );
        let e = grpc_error(&with_info);
        assert!(e.retryable);
        assert_eq!(e.retry_after, Some(Duration::from_secs(2)));
    }

    fn http(compression: &str) -> Transport {
        let flags = crate::sinks::otlp::config::OtlpFlags {
            compression: Some(compression.into()),
            ..Default::default()
        };
        let cfg = OtlpConfig::resolve(&flags, &|_| None).expect("config");
        Transport::new(&cfg).expect("transport")
    }

    #[test]
    fn a_disk_queue_frame_holds_the_request_as_it_is_sent() {
        let proto = Bytes::from_static(b"\x0a\x03abc");
        let gzip = http("gzip");
        let stored = gzip.stored(proto.clone());
        assert!(matches!(stored, Request::Gzipped(_)), "{stored:?}");
        let read = Request::from_frame(stored.to_frame()).expect("reads back");
        assert_eq!(read, stored);
        // The same transport sends it as read; one without gzip, decompressed.
        assert_eq!(gzip.sendable(read.clone()), Some(read.clone()));
        let plain = http("none");
        assert_eq!(plain.sendable(read), Some(Request::Proto(proto.clone())));
        assert_eq!(plain.stored(proto.clone()), Request::Proto(proto));
        // Not a frame this version wrote: no request.
        assert_eq!(Request::from_frame(Vec::new()), None);
        assert_eq!(Request::from_frame(vec![7, 1, 2]), None);
        assert_eq!(
            plain.sendable(Request::Gzipped(Bytes::from_static(b"not gzip"))),
            None
        );
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read;
        let z = gzip_bytes(b"hello hello hello");
        let mut out = String::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "hello hello hello");
    }
}
