//! The resource every batch carries: who is reporting.
//!
//! Detected: `service.*`, `host.*`, `os.*`. Then `OTEL_RESOURCE_ATTRIBUTES`
//! (`k=v,k2=v2`, values percent-decoded) overrides them, and `OTEL_SERVICE_NAME`
//! overrides `service.name`, as the OpenTelemetry specification orders it.

use opentelemetry_proto::tonic::{
    common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value},
    resource::v1::Resource as ProtoResource,
};
use thiserror::Error;

use super::attributes as attr;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ResourceError {
    #[error("OTEL_RESOURCE_ATTRIBUTES: `{0}` is not key=value")]
    NotKeyValue(String),
    #[error("OTEL_RESOURCE_ATTRIBUTES: bad percent-encoding in `{0}`")]
    BadEncoding(String),
}

/// The resource attributes, in order, and the instrumentation scope.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    pub attributes: Vec<(String, String)>,
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `k=v,k2=v2` as in `OTEL_RESOURCE_ATTRIBUTES`.
pub fn parse_resource_attributes(s: &str) -> Result<Vec<(String, String)>, ResourceError> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| ResourceError::NotKeyValue(pair.to_string()))?;
            let k = percent_decode(k.trim())
                .ok_or_else(|| ResourceError::BadEncoding(pair.to_string()))?;
            let v = percent_decode(v.trim())
                .ok_or_else(|| ResourceError::BadEncoding(pair.to_string()))?;
            if k.is_empty() {
                return Err(ResourceError::NotKeyValue(pair.to_string()));
            }
            Ok((k, v))
        })
        .collect()
}

impl Resource {
    /// Detects the host and applies `resource_env` (`OTEL_RESOURCE_ATTRIBUTES`)
    /// and `service_env` (`OTEL_SERVICE_NAME`).
    pub fn detect(
        resource_env: Option<&str>,
        service_env: Option<&str>,
    ) -> Result<Resource, ResourceError> {
        let os_version = crate::kernel::host::kernel_release();
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        let mut attributes: Vec<(String, String)> = vec![
            (attr::SERVICE_NAME.into(), "sysotel".into()),
            (
                attr::SERVICE_VERSION.into(),
                env!("CARGO_PKG_VERSION").into(),
            ),
            (
                attr::SERVICE_INSTANCE_ID.into(),
                read_trimmed("/proc/sys/kernel/random/uuid").unwrap_or_default(),
            ),
            (
                attr::HOST_NAME.into(),
                read_trimmed("/proc/sys/kernel/hostname").unwrap_or_default(),
            ),
            (
                attr::HOST_ID.into(),
                read_trimmed("/etc/machine-id").unwrap_or_default(),
            ),
            (attr::HOST_ARCH.into(), arch.into()),
            (attr::OS_TYPE.into(), "linux".into()),
            (attr::OS_VERSION.into(), os_version),
        ];
        attributes.retain(|(_, v)| !v.is_empty());
        let mut set = |k: String, v: String| match attributes.iter_mut().find(|(key, _)| *key == k)
        {
            Some(slot) => slot.1 = v,
            None => attributes.push((k, v)),
        };
        if let Some(env) = resource_env {
            for (k, v) in parse_resource_attributes(env)? {
                set(k, v);
            }
        }
        if let Some(name) = service_env.map(str::trim).filter(|s| !s.is_empty()) {
            set(attr::SERVICE_NAME.into(), name.into());
        }
        Ok(Resource { attributes })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn proto(&self) -> ProtoResource {
        ProtoResource {
            attributes: self
                .attributes
                .iter()
                .map(|(k, v)| KeyValue {
                    key: k.clone(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(v.clone())),
                    }),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    /// The instrumentation scope: `sysotel` and its version.
    pub fn scope() -> InstrumentationScope {
        InstrumentationScope {
            name: attr::SCOPE_NAME.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_and_overrides() {
        let r = Resource::detect(None, None).expect("detects");
        assert_eq!(r.get(attr::SERVICE_NAME), Some("sysotel"));
        assert_eq!(r.get(attr::OS_TYPE), Some("linux"));
        assert!(r.get(attr::HOST_NAME).is_some());
        let r = Resource::detect(
            Some("deployment.environment=prod,service.name=from-attrs,team=a%2Cb"),
            None,
        )
        .expect("parses");
        assert_eq!(r.get("deployment.environment"), Some("prod"));
        assert_eq!(r.get(attr::SERVICE_NAME), Some("from-attrs"));
        assert_eq!(r.get("team"), Some("a,b"));
        let r =
            Resource::detect(Some("service.name=from-attrs"), Some("from-env")).expect("parses");
        assert_eq!(r.get(attr::SERVICE_NAME), Some("from-env"));
        assert!(matches!(
            Resource::detect(Some("novalue"), None),
            Err(ResourceError::NotKeyValue(_))
        ));
        assert!(matches!(
            Resource::detect(Some("k=%zz"), None),
            Err(ResourceError::BadEncoding(_))
        ));
    }
}
