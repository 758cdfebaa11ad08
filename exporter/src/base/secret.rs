//! The secrets sysotel holds and the rule for them: never printed.
//!
//! Secrets are every OTLP header value (headers carry tokens; the header name
//! stays visible) and the librdkafka properties that hold credentials
//! ([`is_secret_property`]). Where sysotel prints its settings (`config
//! check`), those values read [`REDACTED`]. Every value is also remembered
//! here, and every message sysotel writes about itself (its log, the
//! summary, usage errors, error names counted in metrics and loss records)
//! passes through [`scrub`], which replaces a remembered value wherever it
//! appears: a collector that echoes the request's `authorization` header in
//! its 401 answer does not get the token printed.

use std::{borrow::Cow, sync::RwLock};

/// What a secret reads as.
pub const REDACTED: &str = "[REDACTED]";

/// Values shorter than this are hidden where settings are printed but not
/// searched for in messages: replacing a short value (a tenant id `1`)
/// everywhere would garble every number and word it is part of.
pub const MIN_SCRUBBED: usize = 6;

/// librdkafka properties that hold credentials, besides any whose name
/// contains `password` or `secret`.
const SECRET_PROPERTIES: &[&str] = &[
    "sasl.password",
    "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.config",
    "ssl.key.password",
    "ssl.keystore.password",
    "ssl.key.pem",
    "ssl_key",
];

/// Remembered values, longest first (a value that contains another is
/// replaced whole).
static KNOWN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Whether librdkafka property `key` holds a credential.
pub fn is_secret_property(key: &str) -> bool {
    let key = key.trim().to_ascii_lowercase();
    SECRET_PROPERTIES.contains(&key.as_str()) || key.contains("password") || key.contains("secret")
}

/// Remembers `value` as a secret, and for an `authorization`-style value
/// (`Bearer TOKEN`, `Basic CREDENTIALS`) its credentials alone, which a
/// server may echo without the scheme.
pub fn remember(value: &str) {
    let value = value.trim();
    let mut parts = vec![value];
    if let Some((_, credentials)) = value.split_once(' ') {
        parts.push(credentials.trim());
    }
    let mut known = KNOWN.write().unwrap_or_else(|p| p.into_inner());
    for p in parts {
        if p.chars().count() >= MIN_SCRUBBED && !known.iter().any(|k| k == p) {
            known.push(p.to_string());
        }
    }
    known.sort_by_key(|k| std::cmp::Reverse(k.len()));
}

/// `text` with every remembered secret replaced by [`REDACTED`].
pub fn scrub(text: &str) -> Cow<'_, str> {
    let known = KNOWN.read().unwrap_or_else(|p| p.into_inner());
    if !known.iter().any(|k| text.contains(k.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for k in known.iter() {
        if out.contains(k.as_str()) {
            out = out.replace(k.as_str(), REDACTED);
        }
    }
    Cow::Owned(out)
}

/// A setting that may hold a secret: an OTLP header (every value secret) or
/// a librdkafka property (secret by its name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    OtlpHeader,
    KafkaProperty,
}

impl Holder {
    /// The holder behind flag `--long`, if it is one.
    pub fn of_flag(long: &str) -> Option<Holder> {
        match long {
            "otlp-header" => Some(Holder::OtlpHeader),
            "kafka-property" => Some(Holder::KafkaProperty),
            _ => None,
        }
    }

    /// Whether `key`'s value is secret.
    pub fn secret_key(self, key: &str) -> bool {
        match self {
            Holder::OtlpHeader => true,
            Holder::KafkaProperty => is_secret_property(key),
        }
    }

    /// Whether `key=value` as written holds a secret. Text that is not
    /// `key=value` may be a misplaced credential (`Bearer TOKEN` given
    /// without its header name): for a header it is secret as a whole, for
    /// a property when its text names a credential.
    fn secret(self, assignment: &str) -> Option<(&str, &str)> {
        match assignment.split_once('=') {
            Some((k, v)) if self.secret_key(k) => Some((k, v)),
            Some(_) => None,
            None if self == Holder::OtlpHeader || is_secret_property(assignment) => {
                Some(("", assignment))
            }
            None => None,
        }
    }

    /// Remembers the secret in `key=value`, if it holds one.
    pub fn remember(self, assignment: &str) {
        if let Some((_, v)) = self.secret(assignment) {
            remember(v);
        }
    }

    /// `key=value` as it may be printed: `key=[REDACTED]` when the value is
    /// secret, [`REDACTED`] alone for text that is not `key=value` and may
    /// be a credential.
    pub fn redact(self, assignment: &str) -> Cow<'_, str> {
        match self.secret(assignment) {
            Some(("", _)) => Cow::Borrowed(REDACTED),
            Some((k, _)) => Cow::Owned(format!("{k}={REDACTED}")),
            None => Cow::Borrowed(assignment),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_that_hold_credentials() {
        for k in [
            "sasl.password",
            "SASL.PASSWORD",
            "sasl.oauthbearer.client.secret",
            "sasl.oauthbearer.config",
            "ssl.key.password",
            "ssl.keystore.password",
            "ssl.key.pem",
            "ssl_key",
            "some.future.password.thing",
            "client.secret.x",
        ] {
            assert!(is_secret_property(k), "{k}");
        }
        for k in [
            "sasl.username",
            "bootstrap.servers",
            "ssl.ca.location",
            "acks",
        ] {
            assert!(!is_secret_property(k), "{k}");
        }
    }

    #[test]
    fn redaction_keeps_the_name() {
        let h = Holder::OtlpHeader;
        assert_eq!(
            h.redact("authorization=Bearer x"),
            "authorization=[REDACTED]"
        );
        assert_eq!(h.redact("Bearer x"), REDACTED);
        let p = Holder::KafkaProperty;
        assert_eq!(p.redact("sasl.password=pw"), "sasl.password=[REDACTED]");
        assert_eq!(p.redact("acks=all"), "acks=all");
        assert_eq!(p.redact("sasl.password:pw"), REDACTED);
        assert_eq!(p.redact("acks"), "acks");
        assert_eq!(Holder::of_flag("otlp-header"), Some(h));
        assert_eq!(Holder::of_flag("kafka-brokers"), None);
    }

    #[test]
    fn scrub_replaces_remembered_values_and_their_credentials() {
        Holder::OtlpHeader.remember("authorization=Bearer scrub-test-token-1");
        Holder::KafkaProperty.remember("sasl.password=scrub-test-pw-2");
        Holder::KafkaProperty.remember("sasl.username=scrub-test-user-3");
        Holder::OtlpHeader.remember("x-tenant=1");
        let text = "401: bad Bearer scrub-test-token-1; token scrub-test-token-1; \
                    pw scrub-test-pw-2 user scrub-test-user-3 tenant 1";
        assert_eq!(
            scrub(text),
            "401: bad [REDACTED]; token [REDACTED]; pw [REDACTED] user scrub-test-user-3 tenant 1"
        );
        assert!(matches!(scrub("nothing here"), Cow::Borrowed(_)));
    }
}
