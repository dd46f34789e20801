//! Prefixed identifiers (`job_…`, `task_…`, `key_…`, `wh_…`, `msg_…`), parsed once at the edge.
//!
//! New ids are UUIDv7 (time-ordered), so ordering by id is ordering by creation time: cursor
//! pagination relies on that.

use std::fmt;

/// An id string that does not have the expected prefix and shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} id {value:?}")]
pub struct IdError {
    pub kind: &'static str,
    pub value: String,
}

macro_rules! prefixed_id {
    ($name:ident, $prefix:literal, $kind:literal) => {
        #[doc = concat!("Identifier with the `", $prefix, "` prefix.")]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh, time-ordered id.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, uuid::Uuid::now_v7().simple()))
            }

            /// Validates an id received from a client or read back from storage.
            ///
            /// # Errors
            /// When the prefix is missing or the rest is not 32 lowercase hex digits.
            pub fn parse(value: &str) -> Result<Self, IdError> {
                let rest = value.strip_prefix($prefix).ok_or_else(|| IdError {
                    kind: $kind,
                    value: value.to_owned(),
                })?;
                if rest.len() == 32
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(IdError {
                        kind: $kind,
                        value: value.to_owned(),
                    })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

prefixed_id!(JobId, "job_", "job");
prefixed_id!(TaskId, "task_", "task");
prefixed_id!(KeyId, "key_", "key");
prefixed_id!(WebhookId, "wh_", "webhook");
prefixed_id!(DeliveryId, "msg_", "webhook delivery");
prefixed_id!(SessionId, "rt_", "realtime session");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back_and_sort_by_creation() {
        let first = JobId::generate();
        let second = JobId::generate();
        assert_eq!(JobId::parse(first.as_str()), Ok(first.clone()));
        assert!(first < second);
    }

    #[test]
    fn wrong_prefix_or_shape_is_rejected() {
        let task = TaskId::generate();
        assert!(JobId::parse(task.as_str()).is_err());
        assert!(JobId::parse("job_123").is_err());
        assert!(JobId::parse("job_0123456789ABCDEF0123456789abcdef").is_err());
    }
}
